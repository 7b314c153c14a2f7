"""Tamper evidence: every audit row is sealed into a SHA-256 chain, and `audit_verify` reports rows
forged, altered or deleted behind the application's back, and clinical rows changed by direct SQL
(21 CFR 11.10(c) and (e))."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from trial.core import audit_triggers
from trial.core.audit_chain import GENESIS, audit_verify, chain_head, chain_sha256
from trial.core.models import AccessEvent, AuditSeal

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial_data(randomized: Any, coordinator: Any) -> Any:
    from trial.safety.services import adverse_event_record

    adverse_event_record(
        participant=randomized,
        by=coordinator,
        data={
            "term": "Headache",
            "onset_date": date.today(),
            "ongoing": True,
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
    )
    return randomized


@pytest.fixture
def triggers_lifted() -> Any:
    """What an attacker with the database owner's role could do; put back afterwards."""
    audit_triggers.uninstall(connection)
    yield
    audit_triggers.install(connection)


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def _kinds() -> list[str]:
    return sorted({f.kind for f in audit_verify()})


def _history_table() -> tuple[str, int]:
    from trial.safety.models import AdverseEvent

    history = AdverseEvent.history.model  # type: ignore[attr-defined]
    return history._meta.db_table, history.objects.order_by("history_id").values_list("history_id", flat=True)[0]


def test_every_audit_row_is_sealed_into_one_chain(trial_data: Any) -> None:
    seals = list(AuditSeal.objects.order_by("pk"))
    tables = {s.table_name for s in seals}
    assert {"safety_historicaladverseevent", "core_accessevent", "randomization_listevent"} <= tables
    previous = GENESIS
    for seal in seals:
        assert seal.previous_sha256 == previous
        assert seal.chain_sha256 == chain_sha256(previous, seal.table_name, seal.row_id, seal.row_sha256)
        previous = seal.chain_sha256
    assert audit_verify() == []


def test_it_reports_an_altered_history_row(trial_data: Any, triggers_lifted: None) -> None:
    table, history_id = _history_table()
    _sql("UPDATE safety_historicaladverseevent SET term = %s WHERE history_id = %s", ["Nothing", history_id])
    findings = audit_verify()
    assert [(f.kind, f.where) for f in findings if f.kind == "row_altered"] == [
        ("row_altered", f"{table} row {history_id}")
    ]


def test_it_reports_a_deleted_history_row(trial_data: Any, triggers_lifted: None) -> None:
    _table, history_id = _history_table()
    _sql("DELETE FROM safety_historicaladverseevent WHERE history_id = %s", [history_id])
    assert "row_deleted" in _kinds()


def test_it_reports_a_forged_audit_row(trial_data: Any) -> None:
    # Inserting needs no trigger lifted: the seal is what is missing.
    _sql(
        "INSERT INTO core_accessevent (at, kind, username, ip_address, target, detail) VALUES (%s, %s, %s, %s, %s, %s)",
        ["2026-01-01 00:00:00", "login", "ghost", "10.0.0.1", "", ""],
    )
    assert [f.kind for f in audit_verify()] == ["row_unsealed"]


def test_it_reports_a_removed_seal(trial_data: Any, triggers_lifted: None) -> None:
    middle = AuditSeal.objects.order_by("pk")[3]
    _sql("DELETE FROM core_auditseal WHERE id = %s", [middle.pk])
    assert _kinds() == ["chain_broken", "row_unsealed"]


def test_it_reports_a_rewritten_seal(trial_data: Any, triggers_lifted: None) -> None:
    seal = AuditSeal.objects.order_by("pk")[2]
    _sql("UPDATE core_auditseal SET row_sha256 = %s WHERE id = %s", ["f" * 64, seal.pk])
    assert "seal_altered" in _kinds()


def test_it_reports_a_clinical_row_changed_by_direct_sql(trial_data: Any) -> None:
    # Clinical tables have no trigger: an UPDATE that skips save() leaves no history snapshot.
    from trial.safety.models import AdverseEvent

    ae = AdverseEvent.objects.get()
    _sql("UPDATE safety_adverseevent SET severity = %s WHERE id = %s", ["severe", ae.pk])
    [finding] = audit_verify()
    assert finding.kind == "clinical_differs"
    assert finding.where == f"safety_adverseevent row {ae.pk}" and "severity" in finding.detail


def test_the_command_fails_on_a_finding_and_passes_when_intact(trial_data: Any, capsys: Any) -> None:
    call_command("audit_verify")
    head = chain_head()
    assert f"audit chain head: {head.count}:{head.sha256}" in capsys.readouterr().out
    call_command("audit_verify", expect_at_least=f"{head.count}:{head.sha256}")
    _sql(
        "INSERT INTO core_accessevent (at, kind, username, ip_address, target, detail) VALUES (%s, %s, %s, %s, %s, %s)",
        ["2026-01-01 00:00:00", "login", "ghost", "", "", ""],
    )
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_the_command_detects_the_newest_rows_cut_off_with_their_seals(
    trial_data: Any, users: Any, triggers_lifted: None
) -> None:
    from trial.core.access_log import access_event_record

    event = access_event_record(kind=AccessEvent.Kind.EXPORT, user=users["datamanager"], target="labs.csv")
    head = chain_head()
    _sql("DELETE FROM core_auditseal WHERE table_name = %s AND row_id = %s", ["core_accessevent", str(event.pk)])
    _sql("DELETE FROM core_accessevent WHERE id = %s", [event.pk])
    assert audit_verify() == []  # the shorter chain is consistent in itself...
    with pytest.raises(CommandError):  # ...but not with the head recorded earlier
        call_command("audit_verify", expect_at_least=f"{head.count}:{head.sha256}")


def test_access_events_are_sealed(users: Any) -> None:
    from trial.core.access_log import access_event_record

    event = access_event_record(kind=AccessEvent.Kind.EXPORT, user=users["datamanager"], target="labs.csv")
    assert AuditSeal.objects.filter(table_name="core_accessevent", row_id=str(event.pk)).exists()


def test_rows_are_read_back_for_sealing_as_verification_reads_them(trial_world: Any) -> None:
    """A seal hashes the row as `audit_verify` will read it (`.values()`): the sealing's own read of
    the stored row (`_read_back`, a statement written once per model) gives the same values, of the
    same types, for every sealed table with rows: dates, times, decimals, keys, text and flags."""
    from trial.core.audit_chain import _read_back, row_sha256, sealed_models

    compared = 0
    for model in sealed_models():
        pks = list(model._base_manager.order_by("pk").values_list("pk", flat=True)[:50])
        if not pks:
            continue
        expected = {row[model._meta.pk.attname]: row for row in model._base_manager.filter(pk__in=pks).values()}
        read = _read_back(model)(pks)
        assert len(read) == len(pks), model.__name__
        for row in read:
            want = expected[row[model._meta.pk.attname]]
            assert list(row) == list(want), model.__name__
            assert [type(v) for v in row.values()] == [type(v) for v in want.values()], model.__name__
            assert row == want and row_sha256(row) == row_sha256(want), model.__name__
            compared += 1
    # The world has screening, visits, infusions, bags, labs and events: many tables, many rows.
    assert compared > 100
    assert audit_verify() == []


def test_a_row_cannot_be_sealed_twice(trial_data: Any) -> None:
    # The chain hash is fixed by (previous, table, row id, row hash), so a second seal of one row is the
    # only way to repeat it, and the database refuses that seal whatever its hashes.
    from django.db import IntegrityError, transaction

    seal = AuditSeal.objects.order_by("pk").last()
    assert seal is not None
    head = chain_head().sha256
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.create(
            table_name=seal.table_name,
            row_id=seal.row_id,
            row_sha256=seal.row_sha256,
            previous_sha256=head,
            chain_sha256=chain_sha256(head, seal.table_name, seal.row_id, seal.row_sha256),
            sealed_at=seal.sealed_at,
        )


def test_it_reports_a_forked_chain(trial_data: Any) -> None:
    # A forged row sealed with well-formed hashes, but chained after the seal before the head (a fork):
    # inserting needs no trigger lifted, and the walk in id order finds the link that does not follow.
    from trial.core.audit_chain import row_sha256

    _sql(
        "INSERT INTO core_accessevent (at, kind, username, ip_address, target, detail) VALUES (%s, %s, %s, %s, %s, %s)",
        ["2026-01-01 00:00:00", "login", "ghost", "10.0.0.1", "", ""],
    )
    forged = AccessEvent.objects.get(username="ghost")
    row_hash = row_sha256(AccessEvent.objects.filter(pk=forged.pk).values().get())
    fork_from = AuditSeal.objects.order_by("-pk")[0].previous_sha256
    AuditSeal.objects.create(
        table_name="core_accessevent",
        row_id=str(forged.pk),
        row_sha256=row_hash,
        previous_sha256=fork_from,
        chain_sha256=chain_sha256(fork_from, "core_accessevent", str(forged.pk), row_hash),
        sealed_at=forged.at,
    )
    assert _kinds() == ["chain_broken"]
