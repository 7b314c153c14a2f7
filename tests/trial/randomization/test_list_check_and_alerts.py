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
