"""Enrolment in bulk: the visit schedule is written in one insert with its history rows, every audit
row of the allocation is sealed into the hash chain, and the audit verification finds nothing wrong;
also with enrolments running at the same time."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.trial.randomization.test_concurrency import STRATA, run_threads
from trial.core.audit_chain import audit_verify
from trial.core.models import AuditSeal
from trial.core.services import INITIAL_ENTRY
from trial.protocol.models import VisitDefinition
from trial.randomization.models import Allocation
from trial.randomization.services import randomization_list_create
from trial.visits.models import Visit
from trial.workspace.services import participant_enrol


@pytest.mark.django_db
def test_it_schedules_every_visit_with_its_history_row_and_a_valid_audit_chain(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = make_participant()
    baseline = date.today() - timedelta(days=1)
    participant_enrol(participant=p, by=coordinator, baseline_date=baseline)
    visits = list(Visit.objects.filter(participant=p).select_related("definition").order_by("definition__week"))
    expected = list(VisitDefinition.objects.filter(week__gte=0).order_by("week"))
    assert [v.definition for v in visits] == expected
    for visit in visits:
        assert visit.scheduled_date == baseline + timedelta(days=7 * visit.definition.week)
        assert visit.window_start == visit.scheduled_date - timedelta(days=visit.definition.window_before_days)
        assert visit.created_by == coordinator and visit.updated_by == coordinator
        (snapshot,) = visit.history.all()
        assert snapshot.history_type == "+"
        assert snapshot.history_user == coordinator
        assert snapshot.history_change_reason == INITIAL_ENTRY
        assert snapshot.scheduled_date == visit.scheduled_date
        table = snapshot._meta.db_table
        assert AuditSeal.objects.filter(table_name=table, row_id=str(snapshot.pk)).exists()
    assert audit_verify() == []


@pytest.mark.django_db
def test_a_history_row_of_the_bulk_schedule_altered_behind_the_application_is_found(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    from trial.core import audit_triggers

    p = make_participant()
    participant_enrol(participant=p, by=coordinator)
    snapshot = Visit.objects.filter(participant=p).order_by("pk").last().history.get()
    table = snapshot._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(f'DROP TRIGGER "{table}_append_only_update"')
        else:
            cur.execute(f'DROP TRIGGER "{table}_append_only" ON "{table}"')
        cur.execute(f'UPDATE "{table}" SET window_end = window_start WHERE history_id = %s', [snapshot.pk])  # noqa: S608 - table name from the model
    audit_triggers.install(connection)
    kinds = {(f.kind, f.where) for f in audit_verify()}
    assert ("row_altered", f"{table} row {snapshot.pk}") in kinds


@pytest.mark.django_db
def test_a_second_enrolment_changes_nothing(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    p = make_participant()
    participant_enrol(participant=p, by=coordinator)
    seals = AuditSeal.objects.count()
    again = participant_enrol(participant=p, by=coordinator)
    assert not again.created
    assert Visit.objects.filter(participant=p).count() == VisitDefinition.objects.filter(week__gte=0).count()
    assert AuditSeal.objects.count() == seals


@pytest.mark.django_db
def test_an_enrolment_asks_the_database_a_bounded_number_of_times(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    """Not a timing: the number of statements, which a per-visit or per-entry loop would multiply.
    The whole list is hashed in one statement and the nine visits are written in one insert."""
    participant_enrol(participant=make_participant(), by=coordinator)  # the list is frozen by the first
    p = make_participant()
    with CaptureQueriesContext(connection) as ctx:
        participant_enrol(participant=p, by=coordinator)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(sql) <= 60, len(sql)
    visit_inserts = [s for s in sql if s.startswith('INSERT INTO "visits_visit"')]
    assert len(visit_inserts) == 1
    # Every audit row of the allocation sealed in one pass: one INSERT, or on PostgreSQL one call of the
    # function that takes the chain lock, reads the chain's head and inserts the seals.
    seal_writes = [s for s in sql if s.startswith('INSERT INTO "core_auditseal"') or "stratum_audit_seal(" in s]
    assert len(seal_writes) == 1
    entry_reads = [s for s in sql if 'FROM "randomization_listentry"' in s]
    # The slot taken, and the hash (one aggregate) unless this transaction has already proved the list:
    # on SQLite the test's one transaction did, with the first enrolment (stored_list_matches_in_transaction).
    assert len(entry_reads) == (1 if connection.vendor == "sqlite" else 2)


@pytest.mark.django_db(transaction=True)
def test_enrolments_from_many_threads_keep_list_order_and_a_valid_audit_chain(
    make_participant: Any, users: Any, protocol_loaded: Any, coordinator: Any
) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=20)
    people = [make_participant(sex=STRATA[i % 4][0], screening_crp_mg_l=STRATA[i % 4][1]) for i in range(40)]

    results, errors = run_threads(people, lambda p: participant_enrol(participant=p, by=coordinator))

    assert errors == []
    assert all(r.created for r in results)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for a in Allocation.objects.select_related("entry").order_by("id"):
        assert a.entry.randomization_list_id == rl.pk
        by_stratum[a.stratum].append(a.entry.sequence)
    assert dict(by_stratum) == {s: list(range(1, 11)) for s in by_stratum} and len(by_stratum) == 4
    assert Visit.objects.count() == 40 * VisitDefinition.objects.filter(week__gte=0).count()
    assert audit_verify() == []
