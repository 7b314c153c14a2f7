"""Seeding commits a batch of people at a time: a failure rolls back its whole batch and leaves
every earlier batch, complete, in place; nobody is left half-entered."""

from __future__ import annotations

from typing import Any

import pytest

from trial.demo import seeding
from trial.participants.models import Participant
from trial.visits.models import HamD17

pytestmark = pytest.mark.django_db


def test_a_failure_rolls_back_its_batch_and_keeps_the_batches_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seeding, "SEED_BATCH", 4)
    real = seeding._enrol_one
    entered: list[str] = []

    def failing_sixth(sp: Any, participant: Any, **kwargs: Any) -> Any:
        if len(entered) == 5:
            raise RuntimeError("the sixth person fails")
        enrolled = real(sp, participant, **kwargs)
        entered.append(sp.screening_number)
        return enrolled

    monkeypatch.setattr(seeding, "_enrol_one", failing_sixth)
    with pytest.raises(RuntimeError, match="sixth"):
        seeding.demo_trial_seed(participants=8, seed=2013)
    # People 1-4 were the first batch (committed); the fifth was in the failed batch with the sixth.
    kept = set(Participant.objects.values_list("screening_number", flat=True))
    assert kept == set(entered[:4])
    # The kept people are whole: each randomized one has its ratings (entered last, in bulk).
    for participant in Participant.objects.filter(status__in=["randomized", "completed", "withdrawn"]):
        assert HamD17.objects.filter(visit__participant=participant).exists(), participant


def test_progress_lines_fall_on_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seeding, "SEED_BATCH", 3)
    committed: list[tuple[int, int]] = []

    def progress(done: int, total: int, report: seeding.SeedReport) -> None:
        # Said after the commit: the database holds exactly `done` people.
        committed.append((done, Participant.objects.count()))

    seeding.demo_trial_seed(participants=6, seed=2013, progress=progress, progress_every=2)
    assert committed and all(done == count for done, count in committed)
    assert [d for d, _ in committed][:3] == [2, 4, 6]
