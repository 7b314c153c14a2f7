"""Allocation under real concurrency: 20 threads, each with its own database connection, 200
randomizations across the 4 strata. Runs on whichever database the suite uses:
SQLite by default, PostgreSQL with DATABASE_URL (CI runs both)."""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection, connections

from trial.randomization.models import Allocation, ListEntry, StratumCursor
from trial.randomization.services import participant_randomize, randomization_list_create

THREADS = 20
PARTICIPANTS = 200
STRATA = [("F", 3.4), ("M", 3.4), ("F", 1.2), ("M", 1.2)]


def run_threads(work: list[Any], call: Any) -> tuple[list[Any], list[str]]:
    """Start THREADS threads at once; each takes work items until none are left."""
    todo: queue.Queue[Any] = queue.Queue()
    for item in work:
        todo.put(item)
    results: list[Any] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            start.wait()
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    out = call(item)
                    with lock:
                        results.append(out)
                except Exception as exc:  # every error is counted; the test wants zero
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_it_allocates_200_from_20_threads_without_duplicates_gaps_or_disorder(
    make_participant: Any, users: Any, protocol_loaded: Any, coordinator: Any
) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=60)
    people = [make_participant(sex=STRATA[i % 4][0], screening_crp_mg_l=STRATA[i % 4][1]) for i in range(PARTICIPANTS)]
    assert connection.vendor in ("sqlite", "postgresql")

    results, errors = run_threads(people, lambda p: participant_randomize(participant=p, by=coordinator))

    assert errors == []
    assert len(results) == PARTICIPANTS and all(r.created for r in results)
    allocations = list(Allocation.objects.select_related("entry").order_by("id"))
    assert len(allocations) == PARTICIPANTS
    # 0 duplicate slots: every allocation has its own entry and its own participant.
    assert len({a.entry_id for a in allocations}) == PARTICIPANTS
    assert len({a.participant_id for a in allocations}) == PARTICIPANTS
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for a in allocations:  # in the order they were written
        assert a.entry.stratum == a.stratum and a.entry.randomization_list_id == rl.pk
        by_stratum[a.stratum].append(a.entry.sequence)
    assert len(by_stratum) == 4
    for stratum, sequences in by_stratum.items():
        # 0 skipped entries: the used slots are exactly 1..n, a contiguous prefix of the stratum's list ...
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), stratum
        # ... and they were taken in list order.
        assert sequences == sorted(sequences), stratum
        assert StratumCursor.objects.get(randomization_list=rl, stratum=stratum).next_sequence == len(sequences) + 1
        unused_before = ListEntry.objects.filter(
            randomization_list=rl, stratum=stratum, allocation__isnull=True, sequence__lte=len(sequences)
        )
        assert not unused_before.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_requests_for_one_participant_take_one_slot(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = make_participant()
    results, errors = run_threads([p] * THREADS, lambda q: participant_randomize(participant=q, by=coordinator))
    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.allocation.pk for r in results}) == 1
    assert Allocation.objects.count() == 1
