"""records_create: many new clinical records in one insert, each with its history row sealed into the
audit hash chain; audit_seals_deferred: a transaction's audit rows sealed in one pass at its end."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from trial.core.audit_chain import audit_seals_deferred, audit_verify
from trial.core.models import AuditSeal
from trial.core.services import INITIAL_ENTRY, record_save, records_create
from trial.protocol.models import VisitDefinition
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db


def _visits(participant: Any, *, weeks: int = 3, broken: bool = False) -> list[Visit]:
    today = date.today()
    out = []
    for definition in VisitDefinition.objects.filter(week__gte=0).order_by("week")[:weeks]:
        due = today + timedelta(days=7 * definition.week)
        out.append(
            Visit(
                participant=participant,
                definition=definition,
                scheduled_date=due,
                window_start=due,
                window_end=due - timedelta(days=1) if broken else due + timedelta(days=3),
            )
        )
    return out


def test_it_creates_the_records_and_their_history_in_one_insert_each(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    with CaptureQueriesContext(connection) as ctx:
        created = records_create(_visits(p), by=coordinator)
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    # The seals: one INSERT, or on PostgreSQL one call of the function that inserts them under the chain lock.
    seal_calls = [q["sql"] for q in ctx.captured_queries if "stratum_audit_seal(" in q["sql"]]
    if connection.vendor == "postgresql":
        assert [s.split('"')[1] for s in inserts] == ["visits_visit", "visits_historicalvisit"]
        assert len(seal_calls) == 1
    else:
        assert [s.split('"')[1] for s in inserts] == ["visits_visit", "visits_historicalvisit", "core_auditseal"]
        assert seal_calls == []
    assert len(created) == 3 and all(v.pk for v in created)
    for visit in created:
        (snapshot,) = visit.history.all()
        assert (snapshot.history_user, snapshot.history_change_reason) == (coordinator, INITIAL_ENTRY)
        assert visit.created_by == coordinator
        assert AuditSeal.objects.filter(table_name=snapshot._meta.db_table, row_id=str(snapshot.pk)).exists()
    assert audit_verify() == []


def test_an_invalid_record_refuses_them_all(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    planned = _visits(p)
    planned[-1].window_end = planned[-1].window_start - timedelta(days=1)
    with pytest.raises(ValidationError, match="window must end"):
        records_create(planned, by=coordinator)
    assert not Visit.objects.filter(participant=p).exists()


def test_it_takes_new_records_only(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    saved = record_save(_visits(p, weeks=1)[0], by=coordinator)
    with pytest.raises(ValueError, match="new records"):
        records_create([saved], by=coordinator)


def test_deferred_seals_are_written_in_one_pass_at_the_end(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    before = AuditSeal.objects.count()
    with transaction.atomic(), audit_seals_deferred():
        records_create(_visits(p, weeks=2), by=coordinator)
        p.screening.qids_sr = 19
        record_save(p.screening, by=coordinator, reason="Corrected from source")
        assert AuditSeal.objects.count() == before  # nothing sealed inside the block
    assert AuditSeal.objects.count() == before + 3  # two visit snapshots and the screening's
    assert audit_verify() == []


def test_nothing_is_sealed_when_the_block_fails(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    before = AuditSeal.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), audit_seals_deferred():
        records_create(_visits(p, weeks=2), by=coordinator)
        raise RuntimeError("refused further on")
    assert AuditSeal.objects.count() == before
    assert not Visit.objects.filter(participant=p).exists()
    assert audit_verify() == []


def test_rows_written_outside_a_newer_savepoint_are_read_back_as_they_are_written(
    make_participant: Any, coordinator: Any
) -> None:
    p = make_participant()
    before = AuditSeal.objects.count()
    with transaction.atomic(), audit_seals_deferred():
        with CaptureQueriesContext(connection) as ctx:
            records_create(_visits(p, weeks=2), by=coordinator)
        read_back = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "visits_historicalvisit"')]
        assert len(read_back) == 1  # now, before any lock the caller takes next
        assert AuditSeal.objects.count() == before  # but sealed only at the end
    assert AuditSeal.objects.count() == before + 2
    assert audit_verify() == []


def test_a_row_rolled_back_with_a_savepoint_inside_the_block_is_not_sealed(
    make_participant: Any, coordinator: Any
) -> None:
    p = make_participant()
    before = AuditSeal.objects.count()
    with transaction.atomic(), audit_seals_deferred():
        records_create(_visits(p, weeks=1), by=coordinator)
        with pytest.raises(RuntimeError), transaction.atomic():
            p.screening.qids_sr = 19
            record_save(p.screening, by=coordinator, reason="Corrected from source")
            raise RuntimeError("the correction is withdrawn")
    assert AuditSeal.objects.count() == before + 1  # the visit's snapshot; the screening's was rolled back
    assert audit_verify() == []


def test_a_locked_save_takes_a_saved_record_only(make_participant: Any, coordinator: Any) -> None:
    p = make_participant()
    with transaction.atomic(), pytest.raises(ValueError, match="row lock"):
        record_save(_visits(p, weeks=1)[0], by=coordinator, locked=True)  # a new record has no row to lock


def test_a_locked_save_keeps_the_version_history_and_seal(make_participant: Any, coordinator: Any) -> None:
    from trial.participants.models import Screening

    p = make_participant()
    with transaction.atomic():
        screening = Screening.objects.select_for_update().get(participant=p)
        version = screening.version
        screening.qids_sr = 19
        with CaptureQueriesContext(connection) as ctx:
            record_save(screening, by=coordinator, reason="Corrected from source", locked=True)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [s for s in sql if s.startswith("SAVEPOINT") or "FOR UPDATE" in s]
    screening.refresh_from_db()
    assert (screening.version, screening.qids_sr) == (version + 1, 19)
    latest = screening.history.order_by("-history_id").first()
    assert (latest.history_change_reason, latest.history_user, latest.version) == (
        "Corrected from source",
        coordinator,
        version + 1,
    )
    assert AuditSeal.objects.filter(table_name=latest._meta.db_table, row_id=str(latest.pk)).exists()
    assert audit_verify() == []
