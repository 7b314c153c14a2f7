"""seed_demo says how far it got (a line every N people, none at --verbosity 0), and the demo's
randomization dates are the baseline mornings, never after the participant's end of study."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from trial.demo.seeding import SeedReport, demo_trial_seed
from trial.participants.models import EndOfStudy
from trial.randomization.models import Allocation

pytestmark = pytest.mark.django_db


def test_randomization_dates_never_fall_after_the_end_of_study() -> None:
    lines: list[tuple[int, int]] = []

    def progress(done: int, total: int, report: SeedReport) -> None:
        lines.append((done, total))

    report = demo_trial_seed(participants=10, seed=2013, finished=True, progress=progress, progress_every=4)
    ended = {e.participant_id: e.end_date for e in EndOfStudy.objects.active()}
    assert report.randomized and len(ended) >= report.randomized // 2
    allocations = list(Allocation.objects.select_related("participant"))
    assert allocations
    for allocation in allocations:
        randomized_on = timezone.localtime(allocation.randomized_at).date()
        baseline = allocation.participant.visits.get(definition__week=0).scheduled_date
        assert randomized_on == baseline, allocation.participant
        if allocation.participant_id in ended:
            assert randomized_on <= ended[allocation.participant_id], allocation.participant
    total = lines[-1][1]
    assert [done for done, _ in lines] == [*range(4, total + 1, 4), *([total] if total % 4 else [])]


@pytest.mark.parametrize(("verbosity", "expected"), [(0, 0), (1, 1)])
def test_seed_demo_prints_progress_unless_asked_to_be_quiet(verbosity: int, expected: int) -> None:
    out = StringIO()
    call_command("seed_demo", participants=3, seed=7, progress_every=3, verbosity=verbosity, stdout=out)
    progress = [line for line in out.getvalue().splitlines() if "people seeded" in line]
    assert len(progress) == expected  # three people, a line every three
    if expected:
        assert progress[0].strip().startswith("3/")


def test_progress_every_must_be_positive() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("seed_demo", participants=3, progress_every=0, stdout=StringIO())
