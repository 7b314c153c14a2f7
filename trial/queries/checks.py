"""Automatic edit checks (ICH E6(R3) data integrity; protocol: Schedule of assessments):
what the data of one participant should be queried about.

`participant_findings` only reads; `trial.queries.services.edit_checks_run` turns the findings into
queries (opening new ones, closing those whose data were corrected). Each finding names its check,
visit, form and field, so a re-run recognises the query it raised before instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from trial.participants.models import Participant, Screening
from trial.protocol.selectors import protocol
from trial.visits import soft_checks
from trial.visits.models import Infusion, LabResult, LabSample, Visit
from trial.visits.selectors import earlier_forms_to_do

# Data-management thresholds (the data-validation plan, [edit_checks] of the protocol file): a
# clinically plausible value beyond them is possible, so they raise a question, never refuse the entry.


def _hamd_jump_points() -> int:
    return protocol().edit_checks.hamd_jump_points


def _crp_high_mg_l() -> Decimal:
    return Decimal(str(protocol().edit_checks.crp_high_mg_l)).normalize()


def _weight_change_fraction() -> Decimal:
    return Decimal(str(protocol().edit_checks.weight_change_fraction))


HAMD_JUMP = "hamd_jump"
CRP_HIGH = "crp_high"
OUT_OF_WINDOW = "out_of_window"
WEIGHT_CHANGE = "weight_change"


@dataclass(frozen=True)
class Finding:
    check_code: str
    visit_id: int | None
    form: str
    field: str
    text: str

    @property
    def key(self) -> tuple[str, int | None, str, str]:
        return (self.check_code, self.visit_id, self.form, self.field)


def participant_findings(participant: Participant) -> list[Finding]:
    """Every edit-check finding for one participant, in three light queries whatever the number of visits.

    Runs after every form save, so it reads plain values (one joined row per visit) rather than
    building model instances: the save stays fast (benchmarks/forms.py).
    """
    visits = list(
        Visit.objects.active()
        .filter(participant=participant)
        .order_by("definition__week")
        .values(
            "id",
            "status",
            "out_of_window",
            "actual_date",
            "window_start",
            "window_end",
            "definition__name",
            "hamd__total",
            "hamd__voided_at",
            "infusion__weight_kg",
            "infusion__voided_at",
        )
    )
    crp = list(
        LabResult.objects.active()
        .filter(visit__participant=participant, analyte="hs_crp", value__gt=_crp_high_mg_l())
        .values_list("visit_id", "value")
    )
    screening_crp = (
        Screening.objects.active().filter(participant=participant).values_list("screening_crp_mg_l", flat=True).first()
    )
    findings: list[Finding] = []
    findings += _hamd_jumps(visits)
    findings += _crp_high(visits, crp, screening_crp)
    findings += _out_of_window(visits)
    findings += _weight_changes(visits)
    findings += _soft_check_queries(participant, visits)
    return findings


def _soft_check_queries(participant: Participant, visits: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """The protocol file's [[soft_checks]] of kind "query", on the stored values (trial.visits.soft_checks
    says what each finds; the query quotes the protocol's message). A check of another kind costs nothing here."""
    out: list[Finding] = []
    names = {v["id"]: v["definition__name"] for v in visits}
    if (check := soft_checks.check_of(soft_checks.BLOOD_DRAW_TIME, "query")) is not None:
        times: dict[int, set[Any]] = {}
        for visit_id, at in (
            LabSample.objects.active().filter(visit__participant=participant).values_list("visit_id", "drawn_at")
        ):
            times.setdefault(visit_id, set()).add(at)
        for visit_id, at in (
            LabResult.objects.active().filter(visit__participant=participant).values_list("visit_id", "sample_time")
        ):
            times.setdefault(visit_id, set()).add(at)
        for visit_id, ats in sorted(times.items()):
            message = next((m for at in sorted(ats) if (m := soft_checks.blood_draw_time(check, at))), None)
            if message is not None and visit_id in names:
                out.append(Finding(check.code, visit_id, "labs", "sample_time", message))
    if (check := soft_checks.check_of(soft_checks.ELISA_CV, "query")) is not None:
        config = protocol()
        duplicated = [a.code for a in config.labs if a.duplicates]
        for visit_id, code, r1, r2 in (
            LabResult.objects.active()
            .filter(visit__participant=participant, analyte__in=duplicated)
            .values_list("visit_id", "analyte", "replicate_1", "replicate_2")
        ):
            message = soft_checks.elisa_cv(check, config.analyte(code), r1, r2)
            if message is not None and visit_id in names:
                # Field = the analyte: a post-baseline value that reveals the arm is then queried to the
                # unblinded reviewer only (trial.queries.selectors), like the hs-CRP check.
                out.append(Finding(check.code, visit_id, "labs", code, message))
    if (check := soft_checks.check_of(soft_checks.INFUSION_DURATION, "query")) is not None:
        for visit_id, start, stop in (
            Infusion.objects.active()
            .filter(visit__participant=participant)
            .values_list("visit_id", "start_time", "stop_time")
        ):
            message = soft_checks.infusion_duration(check, start, stop)
            if message is not None and visit_id in names:
                out.append(Finding(check.code, visit_id, "infusion", "stop_time", message))
    if (check := soft_checks.check_of(soft_checks.VISIT_SKIPS_UNFINISHED, "query")) is not None:
        done = [v for v in visits if v["status"] == Visit.Status.DONE]
        later = Visit.objects.active().select_related("definition").filter(pk=done[-1]["id"]).first() if done else None
        if later is not None:
            for name, forms in earlier_forms_to_do(later):
                if forms:
                    earlier_id = next(v["id"] for v in done if v["definition__name"] == name)
                    text = soft_checks.visit_skips_unfinished(check, [(name, forms)])
                    out.append(Finding(check.code, earlier_id, "visit", "forms", text or ""))
    return out


def _hamd_jumps(visits: Sequence[Mapping[str, Any]]) -> list[Finding]:
    rated = [v for v in visits if v["hamd__total"] is not None and v["hamd__voided_at"] is None]
    out = []
    for prev, cur in pairwise(rated):
        change = cur["hamd__total"] - prev["hamd__total"]
        if abs(change) > _hamd_jump_points():
            out.append(
                Finding(
                    HAMD_JUMP,
                    cur["id"],
                    "hamd17",
                    "total",
                    f"HAM-D total changed by {change:+d} points since {prev['definition__name']} "
                    f"({prev['hamd__total']} -> {cur['hamd__total']}), more than {_hamd_jump_points()}. "
                    "Please confirm the item scores.",
                )
            )
    return out


def _crp_high(
    visits: Sequence[Mapping[str, Any]], crp: list[tuple[int, Decimal]], screening_crp: Decimal | None
) -> list[Finding]:
    out = []
    if screening_crp is not None and screening_crp > _crp_high_mg_l():
        out.append(
            Finding(
                CRP_HIGH,
                None,
                "screening",
                "screening_crp_mg_l",
                f"Screening hs-CRP {screening_crp} mg/L is above {_crp_high_mg_l():f} mg/L. "
                "Please confirm against the laboratory report (acute infection?).",
            )
        )
    names = {v["id"]: v["definition__name"] for v in visits}
    for visit_id, value in crp:
        if visit_id in names:
            out.append(
                Finding(
                    CRP_HIGH,
                    visit_id,
                    "labs",
                    "hs_crp",
                    f"hs-CRP {value.normalize():f} mg/L at {names[visit_id]} is above {_crp_high_mg_l():f} mg/L. "
                    "Please confirm against the laboratory report (acute infection?).",
                )
            )
    return out


def _out_of_window(visits: Sequence[Mapping[str, Any]]) -> list[Finding]:
    return [
        Finding(
            OUT_OF_WINDOW,
            v["id"],
            "visit",
            "actual_date",
            f"{v['definition__name']} was done on {v['actual_date']:%d %b %Y}, outside its window "
            f"({v['window_start']:%d %b} to {v['window_end']:%d %b %Y}). Please confirm the date or explain.",
        )
        for v in visits
        if v["status"] == Visit.Status.DONE and v["out_of_window"]
    ]


def _weight_changes(visits: Sequence[Mapping[str, Any]]) -> list[Finding]:
    given = [v for v in visits if v["infusion__weight_kg"] and v["infusion__voided_at"] is None]
    out = []
    for prev, cur in pairwise(given):
        before, after = prev["infusion__weight_kg"], cur["infusion__weight_kg"]
        change = (after - before) / before
        if abs(change) > _weight_change_fraction():
            out.append(
                Finding(
                    WEIGHT_CHANGE,
                    cur["id"],
                    "infusion",
                    "weight_kg",
                    f"Weight changed by {change * 100:+.1f}% since the infusion at {prev['definition__name']} "
                    f"({before} -> {after} kg), more than {_weight_change_fraction() * 100:.0f}%. "
                    "The dose follows the weight: please confirm it.",
                )
            )
    return out
