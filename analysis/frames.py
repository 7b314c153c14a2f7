"""The one bridge from the ORM to pandas.

Every analysis dataset and every export is built here. The treatment arm is added only when the
caller asks for it (`include_arm=True`) AND trial.blinding says this user may see every arm;
otherwise asking for it raises PermissionError. Rows are always ordered by participant id, never by
list or allocation order, so even the order of a blinded dataset says nothing about the arm.
Raters' post-baseline arm-revealing labs are removed by the same rule the pages use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.utils import timezone

from trial import blinding
from trial.core.batches import in_batches
from trial.participants.models import Participant
from trial.safety.models import AdverseEvent
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import HamD17, Infusion, LabResult, Visit


def _check_arm_access(user: Any, include_arm: bool) -> None:
    if include_arm and not blinding.is_unblinded_role(user):
        raise PermissionError("This dataset cannot include the treatment arm for a blinded user.")


def _finish(df: pd.DataFrame, *, user: Any, include_arm: bool) -> pd.DataFrame:
    """Add the arm column when asked (access already checked), then drop the internal participant key."""
    if include_arm and len(df):
        arms: dict[int, str | None] = {}
        for batch in in_batches(sorted(int(pk) for pk in df["pk"].unique())):
            participants = Participant.objects.filter(pk__in=batch).select_related("allocation__entry")
            arms |= blinding.arm_codes(user, participants)
        df["arm"] = df["pk"].map(arms)
    return df.drop(columns=["pk"]) if "pk" in df.columns else df


def participants_frame(*, user: Any, include_arm: bool = False) -> pd.DataFrame:
    """One row per participant (not voided): identifiers, stratification data, randomization number."""
    _check_arm_access(user, include_arm)
    qs = (
        Participant.objects.active()
        .select_related("site", "screening", "allocation__entry", "end_of_study")
        .order_by("participant_id")
    )
    rows = []
    # Asked once, not per participant: after a formal unblinding the answer is a query.
    unblinded = blinding.is_unblinded_role(user)
    broken = blinding.code_broken_among(qs) if unblinded else set()
    for p in qs:
        scr = getattr(p, "screening", None)
        alloc = getattr(p, "allocation", None)
        eos = getattr(p, "end_of_study", None)
        row: dict[str, Any] = {
            "pk": p.pk,
            "participant_id": p.participant_id,
            "screening_number": p.screening_number,
            "site": p.site.code,
            "sex": p.sex,
            "age": scr.age if scr else None,
            "status": p.status,
            "screening_crp_mg_l": float(scr.screening_crp_mg_l) if scr else None,
            "bmi": scr.bmi if scr else None,
            "bipolar": scr.bipolar if scr else None,
            "eligible": scr.eligible if scr else None,
            "failed_criteria": ";".join(scr.failed_criteria) if scr else "",
            "randomization_number": alloc.entry.randomization_number if alloc else None,
            "randomized_at": alloc.randomized_at if alloc else None,
            "stratum": alloc.stratum if alloc else None,
            "end_of_study": eos.outcome if eos else None,
            "end_reason": eos.reason if eos else None,
        }
        if unblinded:
            # Which participants were unblinded is itself for unblinded readers only: with it, a blinded
            # reader learns whose arm someone needed, and from whom to learn it. Blinded readers get
            # the count (`code_broken_count`).
            row["code_broken"] = p.pk in broken
        rows.append(row)
    return _finish(pd.DataFrame(rows), user=user, include_arm=include_arm)


def code_broken_count() -> int:
    """How many participants' codes have been broken: a number any reader of a dataset may have."""
    return len(blinding.code_broken_among(Participant.objects.active().filter(allocation__isnull=False)))


def hamd_long_frame(*, user: Any = None, include_arm: bool = False) -> pd.DataFrame:
    """One row per participant x visit with a HAM-D: participant_id, week, visit_date, hamd_total, baseline, chg."""
    _check_arm_access(user, include_arm)
    rows = (
        HamD17.objects.active()
        .filter(visit__voided_at__isnull=True, visit__participant__voided_at__isnull=True)
        .values_list(
            "visit__participant_id",
            "visit__participant__participant_id",
            "visit__definition__week",
            "visit__actual_date",
            "total",
        )
        .order_by("visit__participant__participant_id", "visit__definition__week")
    )
    df = pd.DataFrame(list(rows), columns=["pk", "participant_id", "week", "visit_date", "hamd_total"])
    if len(df):
        base = df.loc[df["week"] == 0].set_index("participant_id")["hamd_total"]
        df["baseline"] = df["participant_id"].map(base)
        df["chg"] = df["hamd_total"] - df["baseline"]
    else:
        df["baseline"], df["chg"] = [], []
    return _finish(df, user=user, include_arm=include_arm)


def visits_frame(*, user: Any, include_arm: bool = False, today: Any = None) -> pd.DataFrame:
    """One row per scheduled visit: participant_id, week, status, scheduled_date, window_end,
    actual_date, due, infused.

    `due` is True once the visit was done or marked missed, or its window closed before `today`:
    a visit still inside (or before) its window is not missing yet.
    """
    _check_arm_access(user, include_arm)
    today = today or timezone.localdate()
    rows = (
        Visit.objects.active()
        .filter(participant__voided_at__isnull=True)
        .values_list(
            "participant_id",
            "pk",
            "participant__participant_id",
            "definition__week",
            "status",
            "scheduled_date",
            "window_end",
            "actual_date",
        )
        .order_by("participant__participant_id", "definition__week")
    )
    infused = set(Infusion.objects.active().filter(visit__voided_at__isnull=True).values_list("visit_id", flat=True))
    df = pd.DataFrame(
        [
            (
                pk,
                pid,
                week,
                status,
                sched,
                wend,
                actual,
                status != Visit.Status.SCHEDULED or wend < today,
                vid in infused,
            )
            for pk, vid, pid, week, status, sched, wend, actual in rows
        ],
        columns=[
            "pk",
            "participant_id",
            "week",
            "status",
            "scheduled_date",
            "window_end",
            "actual_date",
            "due",
            "infused",
        ],
    )
    return _finish(df, user=user, include_arm=include_arm)


def labs_long_frame(*, user: Any, include_arm: bool = False) -> pd.DataFrame:
    _check_arm_access(user, include_arm)
    qs = visible_labs(
        user,
        LabResult.objects.active().filter(visit__participant__voided_at__isnull=True),
    ).order_by("visit__participant__participant_id", "visit__definition__week", "analyte")
    rows = qs.values_list(
        "visit__participant_id",
        "visit__participant__participant_id",
        "visit__definition__week",
        "analyte",
        "value",
        "unit",
        "replicate_1",
        "replicate_2",
        "assay_batch",
        "sample_time",
    )
    df = pd.DataFrame(
        list(rows),
        columns=[
            "pk",
            "participant_id",
            "week",
            "analyte",
            "value",
            "unit",
            "replicate_1",
            "replicate_2",
            "assay_batch",
            "sample_time",
        ],
    )
    for col in ("value", "replicate_1", "replicate_2"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return _finish(df, user=user, include_arm=include_arm)


def adverse_events_frame(*, user: Any, include_arm: bool = False) -> pd.DataFrame:
    _check_arm_access(user, include_arm)
    qs = (
        AdverseEvent.objects.active()
        .filter(participant__voided_at__isnull=True)
        .order_by("participant__participant_id", "onset_date", "pk")
    )
    rows = qs.values_list(
        "participant_id",
        "participant__participant_id",
        "term",
        "onset_date",
        "end_date",
        "ongoing",
        "severity",
        "serious",
        "relatedness",
        "action_taken",
        "outcome",
    )
    df = pd.DataFrame(
        list(rows),
        columns=[
            "pk",
            "participant_id",
            "term",
            "onset_date",
            "end_date",
            "ongoing",
            "severity",
            "serious",
            "relatedness",
            "action_taken",
            "outcome",
        ],
    )
    return _finish(df, user=user, include_arm=include_arm)


DATASETS = {
    "participants": participants_frame,
    "hamd": hamd_long_frame,
    "labs": labs_long_frame,
    "adverse_events": adverse_events_frame,
}


def queries_frame(*, user: Any) -> pd.DataFrame:
    """One row per data query this user may see (trial.queries.selectors.queries_visible_to: the
    queries on values hidden from them stay hidden): participant_id, form, status, opened_at. No arm."""
    from trial.queries.selectors import queries_visible_to

    rows = queries_visible_to(user).values_list("participant__participant_id", "form", "status", "created_at")
    return pd.DataFrame(list(rows), columns=["participant_id", "form", "status", "opened_at"])
