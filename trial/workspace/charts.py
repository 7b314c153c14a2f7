"""Server-rendered SVG charts for the dashboard: plain functions from numbers to markup.

No chart library and no CDN (the Content Security Policy allows our own static files only), and no
`style` attribute (the CSP refuses inline styles): colours are presentation attributes or classes of
static/css/stratum.css. Every chart is an <svg role="img"> with a <title> and <desc> that say what it
shows in words, and the page keeps the numbers in a table beside it (WCAG 1.1.1).

These functions take counts that the selectors already made blind-safe; they never see an arm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Colour-blind-safe (Okabe-Ito) for the series.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[date, int]]  # (day, cumulative count), in date order


def _svg(width: int, height: int, title: str, desc: str, body: list[str], css_class: str) -> SafeString:
    slug = css_class.replace(" ", "-")
    return mark_safe(  # noqa: S308 (every text below went through escape())
        f'<svg class="chart {escape(css_class)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{slug}-title {slug}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{slug}-title">{escape(title)}</title><desc id="{slug}-desc">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def enrolment_chart(series: Sequence[Series], *, target: int, start: date, end: date) -> SafeString:
    """Cumulative randomizations over time, one line per series, against the target (a dashed line)."""
    width, left, right, top, plot_h = 380, 34, 14, 16, 170
    legend_top = top + plot_h + 34
    height = legend_top + 16 * len(series) + 4
    plot_w = width - left - right
    top_value = max([target, 1] + [p[1] for s in series for p in s.points])
    span = max((end - start).days, 1)

    def x(d: date) -> float:
        return left + plot_w * (d - start).days / span

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#4a5561"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#4a5561"/>',
    ]
    for tick in _ticks(top_value):
        body.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="#1b1f24">{tick}</text>'
        )
    body.append(
        f'<text x="{left}" y="{top + plot_h + 16}" font-size="11" fill="#1b1f24">{escape(f"{start:%d %b %Y}")}</text>'
        f'<text x="{left + plot_w}" y="{top + plot_h + 16}" text-anchor="end" font-size="11" fill="#1b1f24">'
        f"{escape(f'{end:%d %b %Y}')}</text>"
    )
    if target:
        body.append(
            f'<line class="target" x1="{left}" y1="{y(target):.1f}" x2="{left + plot_w}" y2="{y(target):.1f}" '
            f'stroke="#a4161a" stroke-dasharray="6 4"/>'
            f'<text x="{left + plot_w}" y="{y(target) - 4:.1f}" text-anchor="end" font-size="11" fill="#a4161a">'
            f"Target {target}</text>"
        )
    for i, s in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        if s.points:
            steps = [(start, 0), *s.points, (end, s.points[-1][1])]
            path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in _staircase(steps))
            width_attr = 3 if i == 0 else 1.5
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width_attr}"/>')
        legend_y = legend_top + 16 * i
        body.append(
            f'<line x1="{left}" y1="{legend_y - 4}" x2="{left + 14}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{left + 20}" y="{legend_y}" font-size="11" fill="#1b1f24">'
            f"{escape(s.label)} ({s.points[-1][1] if s.points else 0})</text>"
        )
    total = series[0].points[-1][1] if series and series[0].points else 0
    desc = f"{total} randomized of a target of {target}, from {start:%d %b %Y} to {end:%d %b %Y}."
    return _svg(width, height, "Enrolment over time against target", desc, body, "enrolment-chart")


def _staircase(points: Sequence[tuple[date, int]]) -> list[tuple[date, int]]:
    """A cumulative count stays flat until the next randomization, then steps up."""
    out: list[tuple[date, int]] = []
    for d, v in points:
        if out and out[-1][1] != v:
            out.append((d, out[-1][1]))
        out.append((d, v))
    return out


def _ticks(top_value: int) -> list[int]:
    step = max(1, round(top_value / 4))
    return list(range(0, top_value + 1, step))


HEATMAP_STATES = {
    "done": ("#1b7837", "done"),
    "missed": ("#a4161a", "missed"),
    "overdue": ("#e08214", "overdue (window closed)"),
    "due": ("#fdb863", "due (window open)"),
    "scheduled": ("#e7edf3", "not yet due"),
}


def visit_heatmap(rows: Sequence[tuple[str, Sequence[str]]], weeks: Sequence[int]) -> SafeString:
    """Participant x week, one cell per visit coloured by its state (HEATMAP_STATES; '' = no visit)."""
    cell, left, top = 14, 70, 22
    width = left + cell * len(weeks) + 10
    legend_h = 18 * ((len(HEATMAP_STATES) + 2) // 3) + 8
    height = top + cell * len(rows) + legend_h
    body = []
    for j, week in enumerate(weeks):
        body.append(
            f'<text x="{left + cell * j + cell / 2}" y="{top - 6}" text-anchor="middle" font-size="9" '
            f'fill="#1b1f24">{week}</text>'
        )
    for i, (label, states) in enumerate(rows):
        ry = top + cell * i
        body.append(f'<text x="{left - 4}" y="{ry + 11}" text-anchor="end" font-size="9" fill="#1b1f24">'
                    f"{escape(label)}</text>")  # fmt: skip
        for j, state in enumerate(states):
            if state in HEATMAP_STATES:
                colour, name = HEATMAP_STATES[state]
                body.append(
                    f'<rect x="{left + cell * j}" y="{ry}" width="{cell - 1}" height="{cell - 1}" fill="{colour}">'
                    f"<title>{escape(label)}, week {weeks[j]}: {escape(name)}</title></rect>"
                )
    legend_top = top + cell * len(rows) + 8
    for k, (colour, name) in enumerate(HEATMAP_STATES.values()):
        lx, ly = 4 + 150 * (k % 3), legend_top + 18 * (k // 3)
        body.append(
            f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}" stroke="#4a5561" stroke-width=".5"/>'
            f'<text x="{lx + 14}" y="{ly + 9}" font-size="10" fill="#1b1f24">{escape(name)}</text>'
        )
    counts = {
        name: sum(s == state for _, states in rows for s in states) for state, (_, name) in HEATMAP_STATES.items()
    }
    desc = f"{len(rows)} participants by week: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + "."
    return _svg(max(width, 460), height, "Visit completion by participant and week", desc, body, "visit-heatmap")


def bar_chart(bars: Sequence[tuple[str, int]], *, title: str, css_class: str, unit: str) -> SafeString:
    """Horizontal bars with their counts written at the end (query ageing)."""
    row, left, width = 24, 100, 340
    top_value = max([1] + [n for _, n in bars])
    plot_w = width - left - 50
    body = []
    for i, (label, n) in enumerate(bars):
        y = 6 + row * i
        w = plot_w * n / top_value
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12" fill="#1b1f24">{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="#0072B2"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 14}" font-size="12" fill="#1b1f24">{n}</text>'
        )
    desc = "; ".join(f"{label}: {n} {unit}" for label, n in bars) + "."
    return _svg(width, 12 + row * len(bars), title, desc, body, css_class)


def consort_flow(boxes: Sequence[tuple[str, int]], exits: Sequence[tuple[str, int]]) -> SafeString:
    """A CONSORT-style flow without arms: boxes down the middle, exclusions to the right of each step.

    `exits[i]` leaves after `boxes[i]` (label, count); ('', 0) for none."""
    width, box_w, box_h, gap = 380, 170, 34, 26
    body = []
    for i, (label, n) in enumerate(boxes):
        y = 6 + i * (box_h + gap)
        body.append(
            f'<rect x="10" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#e7edf3" stroke="#17324d"/>'
            f'<text x="{10 + box_w / 2}" y="{y + 22}" text-anchor="middle" font-size="13" fill="#1b1f24">'
            f"{escape(label)}: {n}</text>"
        )
        if i + 1 < len(boxes):
            body.append(
                f'<line x1="{10 + box_w / 2}" y1="{y + box_h}" x2="{10 + box_w / 2}" y2="{y + box_h + gap}" '
                f'stroke="#17324d" marker-end="url(#consort-arrow)"/>'
            )
        if i < len(exits) and exits[i][0]:
            ex_label, ex_n = exits[i]
            ey = y + box_h + gap / 2
            body.append(
                f'<line x1="{10 + box_w / 2}" y1="{ey}" x2="{box_w + 30}" y2="{ey}" stroke="#17324d" '
                f'marker-end="url(#consort-arrow)"/>'
                f'<rect x="{box_w + 32}" y="{ey - 13}" width="{width - box_w - 36}" height="26" rx="4" fill="#fff" '
                f'stroke="#66727f"/><text x="{box_w + 38}" y="{ey + 5}" font-size="12" fill="#1b1f24">'
                f"{escape(ex_label)}: {ex_n}</text>"
            )
    defs = (
        '<defs><marker id="consort-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#17324d"/></marker></defs>'
    )
    desc = "; ".join(f"{label}: {n}" for label, n in boxes) + ". " + "; ".join(f"{la}: {n}" for la, n in exits if la)
    height = 12 + len(boxes) * (box_h + gap) - gap
    return _svg(width, height, "Participant flow (CONSORT), arms not shown", desc, [defs, *body], "consort-flow")


def score_by_week(points: Sequence[tuple[int, int]], *, weeks: Sequence[int], y_max: int, title: str) -> SafeString:
    """One participant's score at each rated week (HAM-D-17 total, 0-52): points joined by a line."""
    width, height, left, top, bottom, right = 460, 220, 36, 12, 34, 12
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(max(weeks) - min(weeks), 1)

    def x(week: int) -> float:
        return left + plot_w * (week - min(weeks)) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#4a5561"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#4a5561"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" font-size="11" '
        'fill="#1b1f24">Week</text>',
    ]
    for tick in _ticks(y_max):
        body.append(
            f'<text x="{left - 5}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="10" fill="#1b1f24">{tick}</text>'
        )
    for week in weeks:
        body.append(
            f'<text x="{x(week):.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="10" fill="#1b1f24">'
            f"{week}</text>"
        )
    if points:
        path = " ".join(f"{x(w):.1f},{y(v):.1f}" for w, v in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="#0072B2" stroke-width="2"/>')
        for w, v in points:
            body.append(
                f'<circle cx="{x(w):.1f}" cy="{y(v):.1f}" r="4" fill="#0072B2"><title>Week {w}: {v}</title></circle>'
            )
    desc = "; ".join(f"week {w}: {v}" for w, v in points) + "." if points else "No score recorded yet."
    return _svg(width, height, title, desc, body, "score-by-week")
