"""Adverse events: Table 2's terms at the published per-arm rates, linked to infusions and withdrawals."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

from trial.demo.draws import pick
from trial.demo.records import SyntheticAE

# protocol.md, Published results (Table 2): participant incidence (control, active) of each
# adverse event term. No serious adverse events.
ADVERSE_EVENT_INCIDENCE: Final[dict[str, tuple[float, float]]] = {
    "headache": (0.60, 0.67),
    "coughing": (0.13, 0.20),
    "sore throat": (0.17, 0.20),
    "insomnia": (0.13, 0.17),
    "diarrhea": (0.10, 0.13),
    "upper respiratory infection": (0.20, 0.23),
    "nasal congestion": (0.10, 0.13),
    "myalgia": (0.07, 0.13),
    "panic attacks": (0.03, 0.07),
    "rash": (0.07, 0.10),
    "fever": (0.03, 0.07),
    "urinary leukocyte esterase": (0.00, 0.33),
    "sinus congestion": (0.07, 0.10),
    "yeast infection": (0.03, 0.07),
    "urinary white blood cells": (0.03, 0.10),
}
AE_TERMS: Final = tuple(ADVERSE_EVENT_INCIDENCE)
# Terms that are signs of infection, so an infusion delayed for infection (protocol.md, Design)
# can point at them.
_INFECTION_TERMS: Final = frozenset(
    {
        "coughing",
        "sore throat",
        "upper respiratory infection",
        "nasal congestion",
        "fever",
        "sinus congestion",
        "yeast infection",
    }
)
AE_SEVERITIES: Final = ("mild", "moderate", "severe")
_AE_SEVERITY_PROBABILITIES: Final = (0.75, 0.22, 0.03)
AE_RELATEDNESS: Final = ("not related", "unlikely", "possible", "probable", "definite")
_AE_RELATEDNESS_PROBABILITIES: Final[dict[bool, tuple[float, ...]]] = {
    False: (0.45, 0.30, 0.20, 0.05, 0.00),  # control
    True: (0.30, 0.30, 0.28, 0.10, 0.02),  # active
}
AE_ACTIONS: Final = ("none", "concomitant medication", "dose delayed", "study drug withdrawn")
_AE_CONCOMITANT_MEDICATION_RATE = 0.12
AE_OUTCOMES: Final = ("recovered", "recovering", "not recovered")
_AE_INFUSION_LINKED_SHARE = 0.5  # half the events start within days of an infusion
_AE_MEDIAN_DAYS, _AE_DURATION_LOG_SD = 4.0, 0.8
_AE_PERSISTING_RATE = 0.04  # not resolved whatever the follow-up
_AE_RECOVERING_SHARE = 0.7  # of unresolved events
UNIFORMS_PER_TERM: Final = 9


@dataclass(slots=True)
class _AEDraft:
    """An adverse event before today's cut-off; mutable so the linking rules can adjust it."""

    term: str
    onset_ord: int
    end_ord: int | None
    severity: str
    related: str
    action: str
    recovering: bool


def adverse_events(
    *,
    active: bool,
    uniforms: list[float],
    duration_z: list[float],
    withdrawal_pick_u: float,
    baseline_ord: int,
    today_ord: int,
    visit_ord: list[int],
    infusion: list[bool],
    due_ord: list[int],
    delay_days: list[int],
    withdrawal_ord: int | None,
    withdrawn_for_adverse_event: bool,
) -> list[SyntheticAE]:
    """One participant's Table 2 adverse events up to `today`, each term at most once.

    `visit_ord`, `due_ord`, `delay_days` and `infusion` describe the planned visits, in order.
    """
    column = int(active)
    last_day = visit_ord[-1] - baseline_ord
    end_of_follow_up = visit_ord[-1] if withdrawal_ord is None else withdrawal_ord
    infusion_days = [day - baseline_ord for day, given in zip(visit_ord, infusion, strict=True) if given]

    drafts: list[_AEDraft] = []
    for t, term in enumerate(AE_TERMS):
        occur, mode, which, jitter, severity, related, action, persist, outcome = uniforms[
            t * UNIFORMS_PER_TERM : (t + 1) * UNIFORMS_PER_TERM
        ]
        if occur >= ADVERSE_EVENT_INCIDENCE[term][column]:
            continue
        if mode < _AE_INFUSION_LINKED_SHARE and infusion_days:
            onset_day = infusion_days[math.floor(which * len(infusion_days))] + math.floor(jitter * 4)
        else:
            onset_day = 1 + math.floor(jitter * last_day)
        duration = round(math.exp(math.log(_AE_MEDIAN_DAYS) + _AE_DURATION_LOG_SD * duration_z[t]))
        drafts.append(
            _AEDraft(
                term=term,
                onset_ord=baseline_ord + onset_day,
                end_ord=None if persist < _AE_PERSISTING_RATE else baseline_ord + onset_day + min(max(duration, 1), 60),
                severity=pick(AE_SEVERITIES, _AE_SEVERITY_PROBABILITIES, severity),
                related=pick(AE_RELATEDNESS, _AE_RELATEDNESS_PROBABILITIES[active], related),
                action="concomitant medication" if action < _AE_CONCOMITANT_MEDICATION_RATE else "none",
                recovering=outcome < _AE_RECOVERING_SHARE,
            )
        )

    # A withdrawal for an adverse event points at the participant's first event, moved to
    # just before the withdrawal if it came later. The rare participant with no event at all
    # gets one, its term drawn in proportion to the arm's Table 2 incidences.
    if withdrawn_for_adverse_event and not drafts and withdrawal_ord is not None:
        incidences = [ADVERSE_EVENT_INCIDENCE[term][column] for term in AE_TERMS]
        term = pick(AE_TERMS, [incidence / sum(incidences) for incidence in incidences], withdrawal_pick_u)
        drafts.append(
            _AEDraft(
                term=term,
                onset_ord=withdrawal_ord - 1,
                end_ord=None,
                severity="moderate",
                related="possible",
                action="none",
                recovering=True,
            )
        )
    if withdrawn_for_adverse_event and drafts and withdrawal_ord is not None:
        first = min(drafts, key=lambda draft: draft.onset_ord)
        first.onset_ord = max(min(first.onset_ord, withdrawal_ord - 1), baseline_ord)
        first.end_ord = None
        first.action = "study drug withdrawn"
    # An infusion delayed for infection points at an infection that started in the week before.
    for j in range(len(visit_ord)):
        if not delay_days[j]:
            continue
        for draft in drafts:
            if (
                draft.term in _INFECTION_TERMS
                and draft.action == "none"
                and due_ord[j] - 7 <= draft.onset_ord <= visit_ord[j]
            ):
                draft.action = "dose delayed"
                break

    events: list[SyntheticAE] = []
    for draft in sorted(drafts, key=lambda draft: (draft.onset_ord, draft.term)):
        if draft.onset_ord > today_ord or draft.onset_ord > end_of_follow_up:
            continue
        end_ord = draft.end_ord if draft.end_ord is not None and draft.end_ord <= today_ord else None
        if end_ord is not None:
            outcome_text = "recovered"
        elif draft.recovering:
            outcome_text = "recovering"
        else:
            outcome_text = "not recovered"
        events.append(
            SyntheticAE(
                term=draft.term,
                onset_date=_date(draft.onset_ord),
                onset_day=draft.onset_ord - baseline_ord,
                end_date=None if end_ord is None else _date(end_ord),
                ongoing=end_ord is None,
                severity=draft.severity,
                related=draft.related,
                action=draft.action,
                outcome=outcome_text,
            )
        )
    return events


def _date(ordinal: int) -> dt.date:
    return dt.date.fromordinal(ordinal)
