"""The list's SHA-256 is checked on every allocation, by the database in one statement, and the
alert that follows a refusal is mailed by a Celery task after the refusal's record is committed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from tests.trial.randomization.test_allocation import _tamper
from trial.randomization import services
from trial.randomization.generation import list_digest
from trial.randomization.models import Allocation, ListEntry, ListEvent
from trial.randomization.services import ListIntegrityError, entries_digest, randomization_list_create
from trial.workspace.services import participant_enrol


@pytest.mark.django_db
@pytest.mark.parametrize("by_site", [False, True])
def test_the_database_hashes_a_list_as_it_was_hashed_when_made(users: Any, protocol_loaded: Any, by_site: bool) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=12, stratify_by_site=by_site)
    rows = ListEntry.objects.filter(randomization_list=rl).values_list(
        "stratum", "sequence", "block_number", "block_size", "arm", "randomization_number"
    )
    assert entries_digest(rl) == rl.sha256 == list_digest(rows)


@pytest.mark.django_db
def test_a_row_tampered_after_allocations_began_stops_the_next_allocation(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    first = participant_enrol(participant=make_participant(sex="F"), by=coordinator)
    assert first.created
    # A row of another stratum, far down the list: the check covers the whole list, not the slot taken.
    entry = ListEntry.objects.filter(randomization_list=active_list, stratum="CRP<2|M").order_by("sequence").last()
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    late = make_participant(sex="F")
    with pytest.raises(ListIntegrityError):
        participant_enrol(participant=late, by=coordinator)
    assert Allocation.objects.count() == 1
    assert not late.visits.exists()
    assert ListEvent.objects.filter(kind="integrity_failed").count() == 1


@pytest.fixture
def alerts_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The subjects the task's service was called with (the task imports the service when it runs)."""
    sent: list[str] = []
    real = services.list_alert_send

    def spy(*, subject: str, message: str) -> int:
        sent.append(subject)
        return real(subject=subject, message=message)

    monkeypatch.setattr(services, "list_alert_send", spy)
    return sent


@pytest.mark.django_db
def test_the_alert_is_mailed_by_the_task_once_the_refusal_is_committed(
    make_participant: Any,
    active_list: Any,
    coordinator: Any,
    users: Any,
    alerts_sent: list[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = ListEntry.objects.filter(randomization_list=active_list).first()
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    mail.outbox.clear()
    p = make_participant()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ListIntegrityError):
        participant_enrol(participant=p, by=coordinator)
    # Refused, recorded, and nothing mailed yet: the alert waits for the commit.
    assert ListEvent.objects.filter(kind="integrity_failed").exists()
    assert mail.outbox == [] and alerts_sent == []
    assert len(callbacks) == 1
    callbacks[0]()  # the commit
    assert len(alerts_sent) == 1 and "integrity" in alerts_sent[0]
    assert [m.to for m in mail.outbox] == [[users["unblinded"].email]]
    assert "integrity" in mail.outbox[0].subject


@pytest.mark.django_db
def test_no_alert_is_mailed_when_the_transaction_around_the_refusal_rolls_back(
    make_participant: Any,
    active_list: Any,
    coordinator: Any,
    alerts_sent: list[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = ListEntry.objects.filter(randomization_list=active_list).first()
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    mail.outbox.clear()
    p = make_participant()

    class Abandoned(Exception):
        pass

    def refused_then_abandoned() -> None:
        with transaction.atomic():  # the caller's transaction
            try:
                participant_enrol(participant=p, by=coordinator)
            except ListIntegrityError:
                raise Abandoned from None  # it rolls back, the refusal's record with it

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abandoned):
        refused_then_abandoned()
    assert callbacks == []
    assert alerts_sent == [] and mail.outbox == []
    assert not ListEvent.objects.filter(kind="integrity_failed").exists()


@pytest.mark.django_db
def test_the_database_orders_strata_by_code_point_as_the_digest_does(users: Any, protocol_loaded: Any) -> None:
    # Strata whose order differs between a locale's collation, case-insensitive order and code-point
    # order, and sequences past 9 (numeric, not text, order): the database's digest must still be
    # the digest of Python's sort.
    rl = randomization_list_create(by=users["unblinded"], per_stratum=4)
    strata = ["Zürich|F", "zurich|F", "Émile|M", "a|M", "CRP<2|Ω", "CRP<2|z"]
    for n, stratum in enumerate(strata):
        for sequence in (2, 10, 1):
            ListEntry.objects.create(
                randomization_list=rl,
                stratum=stratum,
                sequence=sequence,
                block_number=1,
                block_size=4,
                arm="IFX" if sequence % 2 else "PBO",
                randomization_number=f"X{n:02d}{sequence:02d}",
            )
    rows = ListEntry.objects.filter(randomization_list=rl).values_list(
        "stratum", "sequence", "block_number", "block_size", "arm", "randomization_number"
    )
    assert entries_digest(rl) == list_digest(rows) != rl.sha256


@pytest.mark.django_db
def test_the_check_stands_whatever_order_the_database_hands_the_lines_back_in(
    users: Any, protocol_loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's group_concat does not promise its input's order: lines in another order fall back to the
    ordered hash, which passes an intact list and refuses a tampered one."""
    from trial.randomization import list_hash

    rl = randomization_list_create(by=users["unblinded"], per_stratum=8)
    assert list_hash.stored_list_matches(rl.pk, rl.sha256)
    ordered = list_hash.stored_list_sha256
    canonical: list[int] = []

    def counted(list_id: int) -> str:
        canonical.append(list_id)
        return ordered(list_id)

    monkeypatch.setattr(list_hash, "stored_list_sha256", counted)
    if list_hash.connection.vendor == "sqlite":
        # In order, the one text decides: the ordered hash is not asked.
        assert list_hash.stored_list_matches(rl.pk, rl.sha256) and canonical == []
        real = list_hash._lines_any_order
        monkeypatch.setattr(
            list_hash, "_lines_any_order", lambda list_id: "".join(reversed(real(list_id).splitlines(keepends=True)))
        )
    assert list_hash.stored_list_matches(rl.pk, rl.sha256)
    entry = ListEntry.objects.filter(randomization_list=rl).order_by("stratum", "sequence").last()
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    assert not list_hash.stored_list_matches(rl.pk, rl.sha256)
    assert canonical  # the mismatches were decided by the ordered hash


@pytest.fixture
def list_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the lists read from the database for the check (each a read of every entry)."""
    from trial.randomization import list_hash

    reads: list[int] = []
    real = list_hash.stored_list_matches

    def counted(list_id: int, expected: str) -> bool:
        reads.append(list_id)
        return real(list_id, expected)

    monkeypatch.setattr(list_hash, "stored_list_matches", counted)
    return reads


@pytest.mark.django_db
def test_within_one_sqlite_transaction_an_intact_list_is_read_once_until_a_savepoint_holding_the_proof_rolls_back(
    users: Any, protocol_loaded: Any, list_reads: list[int]
) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=8)
    once = transaction.get_connection().vendor == "sqlite"

    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        assert services.list_intact(rl)
        assert services.list_intact(rl)
        assert len(list_reads) == (1 if once else 2)
        raise Undone
    # The proof was made inside the rolled-back savepoint: it went with it, and the list is read again.
    assert services.list_intact(rl)
    assert len(list_reads) == (2 if once else 3)
    assert services.list_intact(rl)
    assert len(list_reads) == (2 if once else 4)


@pytest.mark.django_db
def test_a_write_to_the_entries_on_this_connection_after_the_proof_is_seen_by_the_next_check(
    users: Any, protocol_loaded: Any, list_reads: list[int]
) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=8)
    assert services.list_intact(rl)
    entry = ListEntry.objects.filter(randomization_list=rl).order_by("stratum", "sequence").last()
    # Changed and changed back: the list is intact again, but it was written to, so it is read again.
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    assert not services.list_intact(rl)
    _tamper(entry, entry.arm)
    assert services.list_intact(rl)
    assert services.list_intact(rl)
    once = transaction.get_connection().vendor == "sqlite"
    assert len(list_reads) == (3 if once else 4)


@pytest.mark.django_db(transaction=True)
def test_each_transaction_reads_the_list_again_and_allocations_in_one_transaction_share_one_read(
    make_participant: Any, active_list: Any, coordinator: Any, list_reads: list[int]
) -> None:
    first, second = make_participant(sex="F"), make_participant(sex="M")
    assert participant_enrol(participant=first, by=coordinator).created  # its own transaction
    assert participant_enrol(participant=second, by=coordinator).created  # and another
    assert list_reads == [active_list.pk, active_list.pk]
    third, fourth = make_participant(sex="F"), make_participant(sex="M")
    with transaction.atomic():  # a batch, as the demo's seeding enters its participants
        assert participant_enrol(participant=third, by=coordinator).created
        assert participant_enrol(participant=fourth, by=coordinator).created
    once = transaction.get_connection().vendor == "sqlite"
    assert len(list_reads) == (3 if once else 4)
    assert Allocation.objects.count() == 4


@pytest.mark.django_db
def test_an_entry_added_on_this_connection_after_the_proof_is_seen_by_the_next_check(
    users: Any, protocol_loaded: Any
) -> None:
    """An insert (which the append-only trigger allows) changes no schema: the write counter alone sees it."""
    rl = randomization_list_create(by=users["unblinded"], per_stratum=8)
    assert services.list_intact(rl)
    last = ListEntry.objects.filter(randomization_list=rl, stratum="CRP<2|M").order_by("sequence").last()
    ListEntry.objects.create(
        randomization_list=rl,
        stratum=last.stratum,
        sequence=last.sequence + 1,
        block_number=last.block_number + 1,
        block_size=4,
        arm="IFX",
        randomization_number="EXTRA-1",
    )
    assert not services.list_intact(rl)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["temporary copy", "watch dropped"])
def test_a_schema_change_after_the_proof_makes_the_next_check_read_the_list(
    users: Any, protocol_loaded: Any, route: str
) -> None:
    """A temporary table that shadows the entries, or the watching triggers dropped before a change:
    the schema's version moved, so nothing proved before is trusted."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the proof is kept on SQLite only; PostgreSQL reads the list at every check")
    rl = randomization_list_create(by=users["unblinded"], per_stratum=8)
    assert services.list_intact(rl)
    table = ListEntry._meta.db_table
    entry = ListEntry.objects.filter(randomization_list=rl).order_by("stratum", "sequence").last()
    flipped = "PBO" if entry.arm == "IFX" else "IFX"
    with connection.cursor() as cur:
        if route == "temporary copy":
            cur.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM main."{table}"')  # noqa: S608 - table name from the model
            cur.execute(f'UPDATE temp."{table}" SET arm = %s WHERE id = %s', [flipped, entry.pk])  # noqa: S608 - as above
        else:
            for op in ("insert", "update", "delete"):
                cur.execute(f"DROP TRIGGER temp.stratum_list_entry_writes_{op}")
    if route == "watch dropped":
        _tamper(entry, flipped)
    assert not services.list_intact(rl)
