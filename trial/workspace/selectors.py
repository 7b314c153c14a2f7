"""Reads that look across apps: the trial dashboard, and one participant's page with its next actions.

The dashboard counts enrolment against target by stratum (never by arm), visits due, queries and
screen failures, in a fixed number of queries whatever the size of the trial. The participant page
reads no arm: the randomization number and date are annotated from the allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import TruncDate
from django.urls import reverse

from trial import blinding
from trial.access import Capability, can
from trial.participants.models import Consent, Participant
from trial.participants.scope import participants_for, site_filter
from trial.participants.selectors import failed_criteria_labels, participant_get, screen_failures
from trial.protocol.models import Trial
from trial.protocol.selectors import protocol
from trial.queries.selectors import open_queries_by_visit, open_query_counts, queries_visible_to
from trial.randomization.models import Allocation
from trial.randomization.selectors import code_breaks_for
from trial.visits.models import Visit
from trial.visits.selectors import DUE_LISTS, visit_grid, visits_due
from trial.workspace import charts

ON_STUDY = ("randomized", "withdrawn", "completed")


def stratum_label(code: str) -> str:
    """'CRP>=2|F' -> 'hs-CRP >= 2 mg/L, Female', from the protocol's stratification factors."""
    cfg = protocol()
    labels = {lv.code: lv.label for f in cfg.stratification for lv in f.levels}
    return ", ".join(labels.get(part, part) for part in code.split("|"))


def enrollment_by_stratum(*, user: Any) -> list[dict[str, Any]]:
    """Randomized participants per stratum. Strata come from screening data, so they reveal no arm."""
    counts = dict(
        Allocation.objects.active()
        .filter(site_filter(user, "participant__site"))
        .values_list("stratum")
        .annotate(n=Count("id"))
        .order_by()
    )
    strata = protocol().strata()
    rows = [{"code": s, "label": stratum_label(s), "n": counts.pop(s, 0)} for s in strata]
    rows += [{"code": s, "label": stratum_label(s), "n": n} for s, n in sorted(counts.items())]
    return rows


def dashboard_summary(*, user: Any) -> dict[str, Any]:
    """Every count is of the sites this user may reach (trial.participants.scope)."""
    trial = Trial.objects.first()
    by_status = dict(participants_for(user).values_list("status").annotate(n=Count("id")).order_by())
    randomized = sum(by_status.get(s, 0) for s in ON_STUDY)
    target = trial.target_enrollment if trial else 0
    queries = open_query_counts(user=user)
    status_labels = dict(Participant.Status.choices)
    due = visits_due(user=user)
    return {
        "trial": trial,
        "participants_by_status": {status_labels.get(s, s): n for s, n in by_status.items()},
        "randomized_count": randomized,
        "target": target,
        "percent_enrolled": round(100 * randomized / target) if target else 0,
        "strata": enrollment_by_stratum(user=user),
        "due": due,
        # (list, heading, its first visits, how many in all): the page links to the rest.
        "due_lists": [(k, label, getattr(due, k), due.counts[k]) for k, label in DUE_LISTS.items()],
        "queries_open": queries.get("open", 0),
        "queries_answered": queries.get("answered", 0),
        "screen_failures": screen_failures(user=user),
        "screened_count": sum(by_status.values()),
        "charts": dashboard_charts(user=user, target=target, by_status=by_status),
    }


@dataclass
class Action:
    label: str
    url_name: str
    kwargs: dict[str, Any]
    primary: bool = False

    @property
    def url(self) -> str:
        return reverse(self.url_name, kwargs=self.kwargs)


def participant_page(*, participant_id: str, user: Any) -> dict[str, Any]:
    """Everything the participant page shows, in a fixed number of queries whatever the data."""
    participant = participant_get(participant_id, user=user)
    screening = _one_to_one(participant, "screening")
    consents = list(Consent.objects.active().filter(participant=participant).select_related("taken_by"))
    grid = visit_grid(
        participant=participant, user=user, query_counts=open_queries_by_visit(user=user, participant_id=participant.pk)
    )
    safety = (
        Participant.objects.filter(pk=participant.pk)
        .prefetch_related(
            Prefetch("adverse_events", queryset=_active("adverse_events")),
            Prefetch("concomitant_medications", queryset=_active("concomitant_medications")),
            Prefetch("deviations", queryset=_active("deviations")),
        )
        .get()
    )
    page = {
        "participant": participant,
        "screening": screening,
        "failed_criteria": failed_criteria_labels(screening.failed_criteria) if screening else [],
        "baseline_deadline": (
            screening.screening_date + timedelta(days=protocol().baseline_max_days_after_screening)
            if screening
            else None
        ),
        "consents": consents,
        "visits": grid,
        # Protocol [blinding]: some AE terms occur on one arm only; the roles it names see none.
        "adverse_events": list(safety.adverse_events.all()) if blinding.may_see_adverse_events(user) else [],
        "conmeds": list(safety.concomitant_medications.all()),
        "deviations": list(safety.deviations.all()),
        "end_of_study": _one_to_one(participant, "end_of_study"),
        "can_raise_queries": can(user, Capability.RAISE_QUERIES),
        **code_break_panel(participant=participant, user=user),
        "hamd_chart": hamd_chart(grid),
    }
    page["actions"] = next_actions(
        participant=participant,
        user=user,
        has_consent=bool(consents),
        grid=grid,
        has_eos=page["end_of_study"] is not None,
    )
    return page


def _active(relation: str) -> QuerySet[Any]:
    model: Any = Participant._meta.get_field(relation).related_model
    queryset: QuerySet[Any] = model.objects.active()
    return queryset


def _one_to_one(obj: Any, name: str) -> Any:
    record = getattr(obj, name, None)
    return record if record is not None and not record.is_voided else None


RATED_FORMS = frozenset({"hamd17", "cgis"})


def next_visit_row(grid: list[Any], *, rate: bool = True, enter: bool = True) -> Any:
    """The visit to work on next: the first done visit with forms this user still has to do, else the first
    scheduled one. Visits are entered in schedule order (protocol: Schedule of assessments), so "Next
    visit" never points past a visit whose forms are not all in. Post-baseline lab results are not the
    site's to enter (the unblinded statistician's: trial.blinding), so they never hold a visit open here."""

    def mine(cell: Any, week: int) -> bool:
        if cell.code == "labs" and week > 0:
            return False
        return rate if cell.code in RATED_FORMS else enter

    for row in grid:
        week = row.visit.definition.week
        if week >= 0 and row.visit.status == "done" and any(not f.done and mine(f, week) for f in row.forms):
            return row
        if row.visit.status == "scheduled":
            return row
    return None


def next_actions(
    *, participant: Participant, user: Any, has_consent: bool, grid: list[Any], has_eos: bool
) -> list[Action]:
    """What this user may do next for this participant, most likely first."""
    status = participant.status
    pid = {"participant_id": participant.participant_id}
    actions: list[Action] = []
    entry = can(user, Capability.ENTER_DATA)
    S = Participant.Status
    if entry and status in (S.SCREENING, S.ELIGIBLE, S.SCREEN_FAILED):
        actions.append(Action("Edit screening", "participants:screening_edit", pid))
    if entry and status == S.ELIGIBLE:
        if has_consent:
            actions.insert(0, Action("Randomize", "participants:randomize", pid, primary=True))
        else:
            actions.insert(0, Action("Record consent", "participants:consent", pid, primary=True))
    if status == S.RANDOMIZED:
        upcoming = next_visit_row(grid, rate=can(user, Capability.RATE), enter=entry)
        if upcoming is not None and (entry or can(user, Capability.RATE)):
            unfinished = upcoming.visit.status == "done"
            label = "Finish forms" if unfinished else "Next visit"
            actions.append(
                Action(
                    f"{label}: {upcoming.visit.definition.name}",
                    "visits:detail",
                    {"pk": upcoming.visit.pk},
                    primary=True,
                )
            )
        if entry:
            actions += [
                Action("Record adverse event", "safety:ae_new", pid),
                Action("Record concomitant medication", "safety:conmed_new", pid),
                Action("Record protocol deviation", "safety:deviation_new", pid),
            ]
            if not has_eos:
                actions.append(Action("End of study / withdrawal", "participants:end_of_study", pid))
    return actions


def code_break_panel(*, participant: Participant, user: Any) -> dict[str, Any]:
    """What the participant page says about emergency code breaks: that one happened, to those who may
    know (trial.blinding), the breaks this user may open, and the request button for those who may ask.
    Never the arm: that is shown on the break's own page, to its requester only."""
    knows = blinding.may_know_code_broken(user)
    randomized = getattr(participant, "allocation", None) is not None
    return {
        "code_broken": knows and blinding.is_code_broken(participant),
        "code_breaks": list(code_breaks_for(user=user).filter(participant=participant)) if knows else [],
        "can_request_code_break": randomized and can(user, Capability.REQUEST_CODE_BREAK),
    }


def randomized_participant(participant_id: str, *, user: Any) -> Participant | None:
    return (
        participants_for(user).filter(participant_id=participant_id, allocation__isnull=False).first()
        if participant_id
        else None
    )


# --- Dashboard charts (server-rendered SVG, trial.workspace.charts) ------------------------------
# Every count below is by stratum, status or week, never by arm (ICH E9 2.3: no by-arm summary is shown
# to anyone before unblinding outside the DSMB's closed report), so the charts are the same for every role
# except query ageing, which counts only the queries this user may see.

HEATMAP_MAX_PARTICIPANTS = 60
QUERY_AGE_BUCKETS = ((7, "0-7 days"), (14, "8-14 days"), (30, "15-30 days"), (None, "over 30 days"))


def dashboard_charts(*, user: Any, target: int, by_status: dict[str, int], today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    return {
        "enrolment": _enrolment_chart(user=user, target=target, today=today),
        "heatmap": _visit_heatmap(user=user, today=today),
        "consort": _consort(by_status),
        "query_ageing": _query_ageing(user=user, today=today),
    }


def enrolment_series(*, user: Any, today: date) -> tuple[list[charts.Series], date]:
    """Cumulative randomizations by day: overall first, then each stratum of the protocol (one query
    that counts by day and stratum, so its rows grow with the days of recruitment, not the participants)."""
    rows = list(
        Allocation.objects.active()
        .filter(site_filter(user, "participant__site"))
        .annotate(day=TruncDate("randomized_at"))
        .values_list("day", "stratum")
        .annotate(n=Count("id"))
        .order_by("day", "stratum")
    )
    start = rows[0][0] if rows else today
    overall: list[tuple[date, int]] = []
    by_stratum: dict[str, list[tuple[date, int]]] = {s: [] for s in protocol().strata()}
    total = 0
    for day, stratum, n in rows:
        total += n
        overall = _bump(overall, day, total)
        points = by_stratum.setdefault(stratum, [])
        by_stratum[stratum] = _bump(points, day, (points[-1][1] if points else 0) + n)
    series = [charts.Series("All strata", overall)]
    series += [charts.Series(stratum_label(code), pts) for code, pts in by_stratum.items()]
    return series, start


def _bump(points: list[tuple[date, int]], day: date, value: int) -> list[tuple[date, int]]:
    if points and points[-1][0] == day:
        return [*points[:-1], (day, value)]
    return [*points, (day, value)]


def _enrolment_chart(*, user: Any, target: int, today: date) -> Any:
    series, start = enrolment_series(user=user, today=today)
    return charts.enrolment_chart(series, target=target, start=start, end=max(today, start))


def visit_states(
    *, user: Any, today: date, limit: int = HEATMAP_MAX_PARTICIPANTS
) -> tuple[list[tuple[str, list[str]]], list[int]]:
    """The latest `limit` participants on study, each with one state per protocol week (one query)."""
    weeks = sorted({v.week for v in protocol().visits})
    ids = list(
        participants_for(user)
        .filter(status__in=ON_STUDY)
        .order_by("-participant_id")
        .values_list("pk", flat=True)[:limit]
    )
    visits = (
        Visit.objects.active()
        .filter(participant_id__in=ids)
        .values_list("participant__participant_id", "definition__week", "status", "window_start", "window_end")
    )
    grid: dict[str, dict[int, str]] = {}
    for pid, week, status, window_start, window_end in visits:
        state = status
        if status == Visit.Status.SCHEDULED:
            state = "overdue" if window_end < today else ("due" if window_start <= today else "scheduled")
        grid.setdefault(pid, {})[week] = state
    rows = [(pid, [grid[pid].get(w, "") for w in weeks]) for pid in sorted(grid)]
    return rows, weeks


def _visit_heatmap(*, user: Any, today: date) -> Any:
    rows, weeks = visit_states(user=user, today=today)
    return charts.visit_heatmap(rows, weeks) if rows else None


def consort_counts(by_status: dict[str, int]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    S = Participant.Status
    screened = sum(by_status.values())
    randomized = sum(by_status.get(s, 0) for s in ON_STUDY)
    boxes = [("Screened", screened), ("Randomized", randomized), ("Completed week 12", by_status.get(S.COMPLETED, 0))]
    exits = [
        ("Not randomized", screened - randomized),
        ("Withdrawn", by_status.get(S.WITHDRAWN, 0)),
    ]
    return boxes, exits


def _consort(by_status: dict[str, int]) -> Any:
    boxes, exits = consort_counts(by_status)
    return charts.consort_flow(boxes, exits)


def query_ages(*, user: Any, today: date) -> list[tuple[str, int]]:
    """Open and answered queries this user may see, by age in days (one query, counted by the day opened)."""
    by_day = (
        queries_visible_to(user)
        .filter(status__in=("open", "answered"))
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys((label for _, label in QUERY_AGE_BUCKETS), 0)
    for day, n in by_day:
        age = (today - day).days
        label = next(label for limit, label in QUERY_AGE_BUCKETS if limit is None or age <= limit)
        counts[label] += n
    return list(counts.items())


def _query_ageing(*, user: Any, today: date) -> Any:
    ages = query_ages(user=user, today=today)
    if not any(n for _, n in ages):
        return None
    return charts.bar_chart(ages, title="Open data queries by age", css_class="query-ageing", unit="queries")


HAMD_MAX = 52  # HAM-D-17 total range 0-52 (protocol, Instruments)


def hamd_chart(grid: list[Any]) -> Any:
    """HAM-D-17 total by week, from the visit grid the page already shows (the same totals, as a line).
    The totals are in the grid for every role that sees the participant page, so the chart tells nobody
    more than the table beside it."""
    points = []
    for row in grid:
        record = getattr(row.visit, "hamd", None)
        if record is not None and not record.is_voided:
            points.append((row.visit.definition.week, int(record.total)))
    if not points:
        return None
    weeks = [row.visit.definition.week for row in grid]
    return charts.score_by_week(points, weeks=weeks, y_max=HAMD_MAX, title="HAM-D-17 total by week")


@dataclass
class BlankCrf:
    code: str
    title: str
    form: Any


def blank_crfs(*, visit: Any, user: Any) -> list[BlankCrf]:
    """Empty forms of this visit that this user may fill, in the protocol's order, for printing."""
    from trial.visits import forms as visit_forms

    enter, rate = can(user, Capability.ENTER_DATA), can(user, Capability.RATE)
    hidden = blinding.hidden_lab_analytes_for(user) if visit.definition.week > 0 else frozenset()
    makers: dict[str, tuple[bool, str, Any]] = {
        "hamd17": (rate, "HAM-D-17", lambda: visit_forms.HamdForm(visit=visit)),
        "cgis": (rate, "CGI-S", lambda: visit_forms.CgisForm(visit=visit)),
        "vitals": (enter, "Vital signs", lambda: visit_forms.VitalsForm(visit=visit)),
        "labs": (
            enter,
            "Laboratory results",
            lambda: visit_forms.LabsForm(
                visit=visit, analytes=tuple(a for a in protocol().labs if a.code not in hidden)
            ),
        ),
        "infusion": (enter, "Infusion", lambda: visit_forms.InfusionForm(visit=visit)),
    }
    crfs = []
    for code in visit.definition.forms:
        if code in makers and makers[code][0]:
            _, title, make = makers[code]
            crfs.append(BlankCrf(code, title, make()))
    return crfs
