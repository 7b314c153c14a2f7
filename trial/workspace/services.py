"""Writes that span apps: enrolment (randomize, then schedule the visits from baseline)."""

from __future__ import annotations

from datetime import date, datetime

from trial.core.types import Actor
from trial.participants.models import Participant
from trial.randomization.services import RandomizationResult, participant_randomize
from trial.visits.services import visits_schedule


def participant_enrol(
    *, participant: Participant, by: Actor, baseline_date: date | None = None, randomized_at: datetime | None = None
) -> RandomizationResult:
    """Randomize the participant and schedule every protocol visit from the baseline date.

    Both happen in the allocation's one transaction (protocol: Schedule of assessments, visits are
    timed from baseline), so a participant is never randomized without a schedule, nor scheduled
    without a randomization. Idempotent like the allocation: a second request changes nothing.
    """

    def schedule(randomized: Participant, baseline: date) -> None:
        # Called inside the allocation's transaction, under the participant's row lock.
        visits_schedule(participant=randomized, baseline_date=baseline, by=by, participant_locked=True)

    return participant_randomize(
        participant=participant, by=by, baseline_date=baseline_date, then=schedule, randomized_at=randomized_at
    )
