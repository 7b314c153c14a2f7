"""Every change is audited (who, when, old -> new, why); history is append-only; bypasses refused."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from trial.core.models import AuditBypassError
from trial.core.services import ConflictError, record_save, record_void
from trial.participants.models import Participant, Screening

pytestmark = pytest.mark.django_db


def test_it_writes_a_history_row_with_user_old_new_and_reason(make_participant, users):
    p = make_participant()
    scr = p.screening
    scr.qids_sr = 20
    record_save(scr, by=users["investigator"], reason="Transcription error corrected from source")
    latest, previous = scr.history.all()[:2]
    assert latest.history_user == users["investigator"]
    assert latest.history_change_reason == "Transcription error corrected from source"
    assert abs(latest.history_date - timezone.now()) < timedelta(minutes=1)
    assert latest.history_date.utcoffset() == timedelta(0)
    changes = {c.field: (c.old, c.new) for c in latest.diff_against(previous).changes}
    assert changes["qids_sr"] == (17, 20)


def test_a_change_without_a_reason_is_refused_and_nothing_is_written(make_participant, users):
    scr = make_participant().screening
    before = scr.history.count()
    scr.mmse = 30
    with pytest.raises(ValidationError, match="give a reason for the change"):
        record_save(scr, by=users["coordinator"], reason="  ")
    assert scr.history.count() == before
    assert Screening.objects.get(pk=scr.pk).mmse == 29


def test_two_people_editing_one_record_conflict_instead_of_overwriting(make_participant, users):
    p = make_participant()
    first = Screening.objects.get(participant=p)
    second = Screening.objects.get(participant=p)
    first.qids_sr = 18
    record_save(first, by=users["coordinator"], reason="First edit")
    second.qids_sr = 22
    with pytest.raises(ConflictError) as exc:
        record_save(second, by=users["investigator"], reason="Second edit")
    assert exc.value.current.qids_sr == 18
    assert exc.value.attempted.qids_sr == 22
    assert Screening.objects.get(participant=p).qids_sr == 18


def test_records_are_voided_with_a_reason_never_deleted(make_participant, users):
    p = make_participant()
    with pytest.raises(AuditBypassError):
        p.delete()
    with pytest.raises(ValidationError, match="reason"):
        record_void(p, by=users["datamanager"], reason="")
    record_void(p, by=users["datamanager"], reason="Duplicate registration")
    p.refresh_from_db()
    assert p.is_voided and p.void_reason == "Duplicate registration"
    assert Participant.objects.filter(pk=p.pk).exists()
    assert not Participant.objects.active().filter(pk=p.pk).exists()
    assert p.history.first().history_change_reason == "Voided: Duplicate registration"


@pytest.mark.parametrize(
    "bypass",
    [
        lambda qs: qs.update(status="completed"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_create([]),
        lambda qs: qs.bulk_update([], ["status"]),
    ],
    ids=["update", "delete", "bulk_create", "bulk_update"],
)
def test_bulk_writes_that_bypass_the_audit_are_refused(make_participant, bypass):
    make_participant()
    with pytest.raises(AuditBypassError, match="bypass the audit trail"):
        bypass(Participant.objects.all())
    assert Participant.objects.get().status == "eligible"


def _history_table():
    return Participant.history.model._meta.db_table


@pytest.mark.parametrize(
    "sql",
    ["UPDATE {t} SET history_change_reason = 'forged'", "DELETE FROM {t}"],
    ids=["update", "delete"],
)
def test_history_rows_cannot_be_updated_or_deleted_in_the_database(make_participant, sql):
    make_participant()
    table = connection.ops.quote_name(_history_table())
    count = Participant.history.count()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.format(t=table))
    assert Participant.history.count() == count
    assert not Participant.history.filter(history_change_reason="forged").exists()


def test_every_clinical_history_table_has_the_append_only_triggers():
    from trial.core.audit_triggers import append_only_tables

    tables = append_only_tables()
    assert "participants_historicalscreening" in tables
    assert "visits_historicalhamd17" in tables
    assert "randomization_listentry" in tables
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT event_object_table FROM information_schema.triggers")
        guarded = {row[0] for row in cursor.fetchall()}
    assert set(tables) <= guarded
