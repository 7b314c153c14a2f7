"""The same end of study submitted twice at once ends the study once; the second is told why."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.trial.concurrency import at_once
from trial.participants.models import EndOfStudy, Participant
from trial.participants.services import end_of_study_record


@pytest.mark.django_db(transaction=True)
def test_it_records_one_end_of_study_from_two_simultaneous_submissions(randomized: Any, coordinator: Any) -> None:
    day = randomized.screening.screening_date

    def end() -> EndOfStudy:
        p = Participant.objects.get(pk=randomized.pk)  # each request loads its own copy
        return end_of_study_record(
            participant=p, outcome="withdrawn", end_date=day, reason="withdrew consent", by=coordinator
        )

    results, errors = at_once([end, end])
    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], ValidationError), errors
    assert EndOfStudy.objects.filter(participant=randomized).count() == 1
    assert Participant.objects.get(pk=randomized.pk).status == Participant.Status.WITHDRAWN
