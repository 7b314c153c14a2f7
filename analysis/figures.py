"""The report's figures, drawn with matplotlib from a finished run's result (never from the
database), as SVG for the page and the HTML report and as PNG for the bundle.

Deterministic output, so that a re-run on unchanged data gives byte-identical files: the Agg
backend, a fixed `svg.hashsalt` (matplotlib otherwise salts SVG ids at random), no creation date
in the metadata. Arm colours are the Okabe-Ito palette's blue and vermillion, told apart by
readers with any common colour-vision deficiency; the arms also differ by marker and line style.

Blinding: the by-arm figures are made only for unblinded runs (whose pages only unblinded roles
reach, analysis.selectors); a pooled run gets the pooled HAM-D trajectory, with no arm at all.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

# Okabe & Ito (2008), "Color universal design": distinguishable with deuteranopia and protanopia.
ARM_STYLE: dict[str, dict[str, Any]] = {
    "active": {"color": "#0072B2", "marker": "o", "linestyle": "-"},
    "control": {"color": "#D55E00", "marker": "s", "linestyle": "--"},
}
POOLED_COLOUR = "#000000"
_RC: Any = {
    "svg.hashsalt": "stratum",
    "svg.fonttype": "path",  # glyphs as paths: the same drawing whatever fonts the reader has
    "font.size": 9,
    "figure.dpi": 100,
}


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    alt: str
    svg: str
    png: bytes

    @property
    def svg_data_uri(self) -> str:
        # An SVG as an image document keeps its own styles out of the page's strict CSP (style-src
        # 'self'), which inline <svg> style attributes would break.
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def _render(fig: Any, name: str, title: str, alt: str) -> Figure:
    svg_buf, png_buf = io.StringIO(), io.BytesIO()
    with plt.rc_context(_RC):  # svg.hashsalt is read when saving, not when drawing
        fig.savefig(svg_buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
        fig.savefig(png_buf, format="png", metadata={"Software": None}, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return Figure(name=name, title=title, alt=alt, svg=svg_buf.getvalue(), png=png_buf.getvalue())


def lsmeans_figure(result: dict[str, Any]) -> Figure | None:
    """LS-mean change in HAM-D-17 by week and arm with 95% CIs (the SAP's categorical-time model)."""
    rows = (result.get("primary") or {}).get("lsmeans") or []
    if not rows:
        return None
    arms = {"active": result["active"], "control": result["control"]}
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        for i, (role, code) in enumerate(arms.items()):
            sel = sorted((r for r in rows if str(r["arm"]) == code), key=lambda r: float(r["week"]))
            weeks = np.array([float(r["week"]) for r in sel]) + (0.12 if i else -0.12)
            est = np.array([r["estimate"] for r in sel], dtype=float)
            lo = np.array([r["ci_low"] for r in sel], dtype=float)
            hi = np.array([r["ci_high"] for r in sel], dtype=float)
            ax.errorbar(weeks, est, yerr=[est - lo, hi - est], capsize=3, label=code, **ARM_STYLE[role])
        ax.axhline(0, color="#999999", linewidth=0.8)
        ax.set_xlabel("Week")
        ax.set_ylabel("LS-mean change from baseline, HAM-D-17 (points)")
        ax.legend(title="Arm", frameon=False)
        ax.set_title("Change in HAM-D-17 by week (LS-means, 95% CI)")
    return _render(
        fig,
        "lsmeans_by_week",
        "LS-mean change in HAM-D-17 by week and arm",
        f"LS-mean change from baseline in HAM-D-17 by week for {arms['active']} and {arms['control']}, with 95% CIs.",
    )


def difference_figure(result: dict[str, Any]) -> Figure | None:
    """Active minus control change at week 12 against baseline hs-CRP (log axis), 95% band, zero crossing."""
    moderation = result.get("moderation") or {}
    curve = moderation.get("curve") or []
    if not curve:
        return None
    x = np.array([r["crp_mg_l"] for r in curve], dtype=float)
    est = np.array([r["estimate"] for r in curve], dtype=float)
    lo = np.array([r["ci_low"] for r in curve], dtype=float)
    hi = np.array([r["ci_high"] for r in curve], dtype=float)
    crossing = moderation.get("crossing_mg_l")
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        ax.fill_between(x, lo, hi, color=ARM_STYLE["active"]["color"], alpha=0.2, linewidth=0, label="95% CI")
        ax.plot(x, est, color=ARM_STYLE["active"]["color"], label=f"{result['active']} minus {result['control']}")
        ax.axhline(0, color="#555555", linewidth=0.8)
        if crossing:
            ax.axvline(crossing, color="#555555", linestyle=":", linewidth=1)
            ax.annotate(f"zero at {crossing:.2f} mg/L", (crossing, 0), textcoords="offset points", xytext=(5, 8))
        ax.set_xscale("log")
        ax.set_xlabel("Baseline hs-CRP (mg/L, log scale)")
        ax.set_ylabel(f"Difference in HAM-D-17 change at week {moderation.get('week', 12)} (points)")
        ax.legend(frameon=False)
        ax.set_title("Treatment difference by baseline hs-CRP")
    return _render(
        fig,
        "difference_by_crp",
        "Week-12 difference against baseline hs-CRP",
        "Infliximab minus placebo change in HAM-D-17 at week 12 against baseline hs-CRP on a log axis, with 95% band"
        + (f"; it crosses zero at {crossing:.2f} mg/L." if crossing else "."),
    )


def pooled_trajectory_figure(result: dict[str, Any]) -> Figure | None:
    """Pooled (both arms together) mean HAM-D-17 by week: the blinded view."""
    rows = result.get("by_week") or []
    rows = [r for r in rows if r.get("mean_hamd") is not None]
    if not rows:
        return None
    weeks = np.array([float(r["week"]) for r in rows])
    mean = np.array([r["mean_hamd"] for r in rows], dtype=float)
    sd = np.array([r["sd_hamd"] if r.get("sd_hamd") is not None else np.nan for r in rows], dtype=float)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        ax.errorbar(
            weeks, mean, yerr=np.nan_to_num(sd), color=POOLED_COLOUR, marker="o", capsize=3, label="All participants"
        )
        ax.set_xlabel("Week")
        ax.set_ylabel("HAM-D-17 total (points), mean and SD")
        ax.legend(frameon=False)
        ax.set_title("HAM-D-17 by week, pooled over arms")
    return _render(
        fig, "pooled_hamd_by_week", "Pooled HAM-D-17 by week", "Mean HAM-D-17 by week over all participants, with SD."
    )


def power_figure(result: dict[str, Any]) -> Figure | None:
    """Simulated power against sample size per arm, with Monte Carlo 95% intervals."""
    rows = result.get("power") or []
    if not rows:
        return None
    n = np.array([float(r["n_per_arm"]) for r in rows])
    power = np.array([r["power"] for r in rows], dtype=float)
    lo = np.array([r["mc_ci_low"] for r in rows], dtype=float)
    hi = np.array([r["mc_ci_high"] for r in rows], dtype=float)
    params = result.get("parameters") or {}
    threshold = params.get("crp_threshold_mg_l")
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        ax.errorbar(
            n,
            power,
            yerr=[power - lo, hi - power],
            capsize=3,
            marker="o",
            color=ARM_STYLE["active"]["color"],
            label="Simulated power (95% MC interval)",
        )
        ax.axhline(0.8, color="#555555", linestyle=":", linewidth=1, label="80% power")
        ax.set_ylim(0, 1)
        ax.set_xlabel("Participants per arm")
        ax.set_ylabel("Power (share of simulated trials with P < .05)")
        ax.legend(frameon=False, loc="lower right")
        ax.set_title(f"Follow-up trial enrolling hs-CRP > {threshold} mg/L")
    return _render(
        fig,
        "power_by_sample_size",
        "Power against sample size per arm",
        f"Simulated power of a follow-up trial enrolling baseline hs-CRP above {threshold} mg/L against participants "
        "per arm, with Monte Carlo 95% intervals and a line at 80% power.",
    )


def run_figures(kind: str, result: dict[str, Any]) -> list[Figure]:
    if kind == "power_sim":
        figures = [power_figure(result)]
    elif kind in ("mmrm_final", "dsmb_closed"):
        figures = [lsmeans_figure(result), difference_figure(result)]
    elif kind == "mmrm_pooled":
        figures = [pooled_trajectory_figure(result)]
    else:
        figures = []
    return [f for f in figures if f is not None]
