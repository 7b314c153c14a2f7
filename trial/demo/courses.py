"""A participant's course after baseline: the orchestration of visits, ratings, labs, infusions and events.

`generate_courses` draws every random number of a batch up front (`CourseDraws`), plans the full,
untruncated course of each participant with vectorised maths (`_plan`), then cuts each course at
`today` and at any withdrawal (`_build`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.stats.trial_shape import REFERENCE_SHAPE, TrialShape
from trial.demo.adverse_events import AE_TERMS, UNIFORMS_PER_TERM, adverse_events
from trial.demo.draws import BoolArray, CourseDraws, FloatArray, IntArray
from trial.demo.facts import ProtocolFacts
from trial.demo.infusions import infusion_delays, infusion_given
from trial.demo.labs import BIOMARKERS, biomarker_courses, crp_course, visit_labs
from trial.demo.outcomes import cgi_from_hamd, hamd_items, hamd_totals
from trial.demo.records import (
    SyntheticCourse,
    SyntheticParticipant,
    SyntheticVisit,
    SyntheticWithdrawal,
    missed_visit,
)
from trial.demo.timeline import missed_reasons, visit_dates, withdrawals
from trial.demo.vitals import vital_signs, weights
from trial.protocol.config import ProtocolConfig

# Active-drug effects take about a week to build after the first infusion.
_DRUG_ONSET_WEEKS = 1.0


def generate_course(
    p: SyntheticParticipant,
    *,
    arm: str,
    seed: int,
    today: dt.date,
    protocol: ProtocolConfig,
    shape: TrialShape = REFERENCE_SHAPE,
) -> SyntheticCourse:
    """The course of one eligible participant on `arm` (a protocol arm code), with visits up to `today`."""
    return generate_courses([p], [arm], seed=seed, today=today, protocol=protocol, shape=shape)[0]


def generate_courses(
    participants: Sequence[SyntheticParticipant],
    arms: Sequence[str],
    *,
    seed: int,
    today: dt.date,
    protocol: ProtocolConfig,
    shape: TrialShape = REFERENCE_SHAPE,
) -> list[SyntheticCourse]:
    """Vectorised `generate_course`: same output per participant, much faster in bulk."""
    facts = ProtocolFacts.from_config(protocol)
    if len(participants) != len(arms):
        raise ValueError("one arm per participant is needed")
    for p, arm in zip(participants, arms, strict=True):
        facts.is_active(arm)  # refuses an arm the protocol does not have
        if not p.eligible or p.scheduled_baseline_date is None:
            raise ValueError(f"{p.screening_number} is not eligible, so has no course")
    if not participants:
        return []
    draws = _draws(participants, arms, seed=seed, facts=facts)
    plan = _plan(participants, arms, draws, facts=facts, shape=shape)
    return [
        _build(row, p, arm, plan, draws, today=today, facts=facts)
        for row, (p, arm) in enumerate(zip(participants, arms, strict=True))
    ]


def _draws(
    participants: Sequence[SyntheticParticipant], arms: Sequence[str], *, seed: int, facts: ProtocolFacts
) -> CourseDraws:
    v = len(facts.visits)
    k = len(BIOMARKERS)
    n_terms = len(AE_TERMS)
    return CourseDraws(
        [(p.index, facts.arm_stream(arm)) for p, arm in zip(participants, arms, strict=True)],
        seed=seed,
        normal_blocks=[
            ("change", 1),
            ("hamd_residual", v),
            ("cgi", v),
            ("crp_baseline", 1),
            ("crp", v),
            ("biomarker_level", k),
            ("biomarker", k * v),
            ("duplicate_cv", k * v),
            ("weight_drift", 1),
            ("weight", v),
            ("vital_level", 4),
            ("vital", 4 * v),
            ("item_profile", len(facts.hamd_item_max)),
            ("ae_duration", n_terms),
        ],
        uniform_blocks=[
            ("hamd_slots", sum(facts.hamd_item_max) * v),
            ("design", v),
            ("sporadic", v),
            ("withdrawal", 4),
            ("delay", v),
            ("delay_days", v),
            ("infusion_start", v),
            ("reaction", v),
            ("duplicate_sign", k * v),
            ("ae", UNIFORMS_PER_TERM * n_terms),
            ("ae_for_withdrawal", 1),
            ("visit_on_due_day", v),
            ("visit_offset", v),
        ],
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """Per-participant (rows) by per-visit (columns) arrays of the full, untruncated course."""

    on_active: BoolArray
    due_ord: IntArray
    visit_ord: IntArray
    delay_days: IntArray
    missed_reason: list[list[str | None]]
    hamd_items: IntArray  # rows x visits x items
    cgi: IntArray
    crp: FloatArray
    biomarkers: FloatArray  # rows x visits x biomarker x (value, replicate 1, replicate 2)
    weight: FloatArray
    vitals: FloatArray  # rows x visits x (systolic, diastolic, heart rate, temperature)
    withdraws: BoolArray
    last_visit_index: IntArray
    withdrawal_ord: IntArray
    withdrawal_reason: list[str]


def _plan(
    participants: Sequence[SyntheticParticipant],
    arms: Sequence[str],
    draws: CourseDraws,
    *,
    facts: ProtocolFacts,
    shape: TrialShape,
) -> _Plan:
    n, v = len(participants), len(facts.visits)
    week = np.asarray(facts.weeks, dtype=np.float64)
    on_active = np.array([facts.is_active(arm) for arm in arms])
    log_crp = np.log([p.screening_crp_mg_l for p in participants])
    baseline_ord = np.array([_scheduled_baseline(p).toordinal() for p in participants], dtype=np.int64)

    is_infusion = np.array([sv.infusion for sv in facts.visits]) & (week > 0)
    delay_days = infusion_delays(
        delay_u=draws.uniform("delay"), days_u=draws.uniform("delay_days"), infusion_after_baseline=is_infusion
    )
    due_ord, visit_ord = visit_dates(
        baseline_ord=baseline_ord,
        facts=facts,
        delay_days=delay_days,
        on_day_u=draws.uniform("visit_on_due_day"),
        offset_u=draws.uniform("visit_offset"),
    )

    totals = hamd_totals(
        baseline=np.array([p.baseline_hamd for p in participants], dtype=np.float64),
        log_crp=log_crp,
        on_active=on_active,
        week=week,
        change_z=draws.normal("change")[:, 0],
        residual_z=draws.normal("hamd_residual"),
        shape=shape,
        item_max_total=_reachable_total(facts),
    )
    items = hamd_items(
        totals,
        item_max=facts.hamd_item_max,
        suicide_item_index=facts.suicide_item_index,
        suicidal_ideation_score=facts.suicidal_ideation_score,
        item_profile=draws.normal("item_profile"),
        slot_uniforms=draws.uniform("hamd_slots").reshape(n, v, -1),
        item3_at_baseline=np.array([p.hamd_item3 for p in participants], dtype=np.int64),
    )
    cgi = cgi_from_hamd(totals.astype(np.float64), draws.normal("cgi"), facts.cgi_s_range)
    cgi[:, 0] = np.array([p.baseline_cgi_s for p in participants], dtype=np.int64)

    drug_on_board = np.where(on_active[:, None], 1 - np.exp(-week / _DRUG_ONSET_WEEKS), 0.0)
    withdraws, last_visit_index, withdrawal_ord, withdrawal_reason = withdrawals(
        withdrawal_u=draws.uniform("withdrawal"), visit_ord=visit_ord, on_active=on_active, facts=facts, shape=shape
    )
    return _Plan(
        on_active=on_active,
        due_ord=due_ord,
        visit_ord=visit_ord,
        delay_days=delay_days,
        missed_reason=missed_reasons(
            design_u=draws.uniform("design"), sporadic_u=draws.uniform("sporadic"), facts=facts, shape=shape
        ),
        hamd_items=items,
        cgi=cgi,
        crp=crp_course(
            log_crp=log_crp,
            drug_on_board=drug_on_board,
            week=week,
            baseline_z=draws.normal("crp_baseline"),
            visit_z=draws.normal("crp"),
            shape=shape,
        ),
        biomarkers=biomarker_courses(
            log_crp=log_crp,
            drug_on_board=drug_on_board,
            level_z=draws.normal("biomarker_level"),
            visit_z=draws.normal("biomarker"),
            cv_z=draws.normal("duplicate_cv"),
            sign_u=draws.uniform("duplicate_sign"),
            shape=shape,
        ),
        weight=weights(
            screening_kg=np.array([p.weight_kg for p in participants]),
            week=week,
            drift_z=draws.normal("weight_drift"),
            visit_z=draws.normal("weight"),
        ),
        vitals=vital_signs(
            bmi=np.array([p.bmi for p in participants]),
            level_z=draws.normal("vital_level"),
            visit_z=draws.normal("vital"),
        ),
        withdraws=withdraws,
        last_visit_index=last_visit_index,
        withdrawal_ord=withdrawal_ord,
        withdrawal_reason=withdrawal_reason,
    )


def _reachable_total(facts: ProtocolFacts) -> int:
    """The highest HAM-D total after baseline: item 3 stays below the suicidal-ideation score."""
    item3_max = facts.hamd_item_max[facts.suicide_item_index]
    return sum(facts.hamd_item_max) - max(0, item3_max - (facts.suicidal_ideation_score - 1))


def _scheduled_baseline(p: SyntheticParticipant) -> dt.date:
    if p.scheduled_baseline_date is None:  # callers check eligibility first
        raise ValueError(f"{p.screening_number} has no baseline")
    return p.scheduled_baseline_date


def _build(
    row: int,
    p: SyntheticParticipant,
    arm: str,
    plan: _Plan,
    draws: CourseDraws,
    *,
    today: dt.date,
    facts: ProtocolFacts,
) -> SyntheticCourse:
    weeks = facts.weeks
    active = bool(plan.on_active[row])
    today_ord = today.toordinal()
    withdraws = bool(plan.withdraws[row])
    last_index = int(plan.last_visit_index[row]) if withdraws else len(weeks) - 1
    withdrawal_ord = int(plan.withdrawal_ord[row]) if withdraws else None

    visit_ord = plan.visit_ord[row].tolist()
    delay_days = plan.delay_days[row].tolist()
    items = plan.hamd_items[row].tolist()
    cgi = plan.cgi[row].tolist()
    crp = plan.crp[row].tolist()
    biomarkers = plan.biomarkers[row].tolist()
    weight = plan.weight[row].tolist()
    vitals = plan.vitals[row].tolist()
    start_u = draws.uniform("infusion_start")[row].tolist()
    reaction_u = draws.uniform("reaction")[row].tolist()

    visits: list[SyntheticVisit] = []
    for j, scheduled in enumerate(facts.visits):
        # After a withdrawal there are no further visits; future visits are not generated.
        if j > last_index or visit_ord[j] > today_ord:
            break
        reason = plan.missed_reason[row][j]
        visit_date = dt.date.fromordinal(visit_ord[j])
        if reason is not None:
            visits.append(missed_visit(scheduled.week, visit_date, reason))
            continue
        forms = scheduled.forms
        vitals_done = "vitals" in forms
        systolic, diastolic, heart_rate, temperature = vitals[j]
        visits.append(
            SyntheticVisit(
                week=scheduled.week,
                date=visit_date,
                status="done",
                missed_reason=None,
                hamd_items=tuple(items[j]) if "hamd17" in forms else None,
                cgi_s=cgi[j] if "cgis" in forms else None,
                labs=(
                    visit_labs(
                        analytes=facts.analytes,
                        duplicates=facts.duplicate_analytes,
                        crp=crp[j],
                        biomarkers=biomarkers[j],
                    )
                    if "labs" in forms
                    else {}
                ),
                weight_kg=weight[j] if vitals_done or scheduled.infusion else None,
                systolic=int(systolic) if vitals_done else None,
                diastolic=int(diastolic) if vitals_done else None,
                heart_rate=int(heart_rate) if vitals_done else None,
                temperature_c=temperature if vitals_done else None,
                infusion=(
                    infusion_given(
                        delayed_days=delay_days[j], start_u=start_u[j], reaction_u=reaction_u[j], active=active
                    )
                    if scheduled.infusion
                    else None
                ),
            )
        )

    withdrawal = None
    if withdrawal_ord is not None and withdrawal_ord <= today_ord:
        withdrawal = SyntheticWithdrawal(
            date=dt.date.fromordinal(withdrawal_ord),
            reason=plan.withdrawal_reason[row],
            last_visit_week=weeks[last_index],
        )
    completed = not withdraws and len(visits) == len(weeks) and visits[-1].status == "done"
    events = adverse_events(
        active=active,
        uniforms=draws.uniform("ae")[row].tolist(),
        duration_z=draws.normal("ae_duration")[row].tolist(),
        withdrawal_pick_u=float(draws.uniform("ae_for_withdrawal")[row, 0]),
        baseline_ord=_scheduled_baseline(p).toordinal(),
        today_ord=today_ord,
        visit_ord=visit_ord,
        infusion=[sv.infusion for sv in facts.visits],
        due_ord=plan.due_ord[row].tolist(),
        delay_days=delay_days,
        withdrawal_ord=withdrawal_ord,
        withdrawn_for_adverse_event=withdraws and plan.withdrawal_reason[row] == "adverse event",
    )
    return SyntheticCourse(
        participant_index=p.index,
        arm=arm,
        visits=visits,
        adverse_events=events,
        withdrawal=withdrawal,
        completed=completed,
    )
