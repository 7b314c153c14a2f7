"""participant_randomize: preconditions, list order, who and when, idempotency, exhaustion, freezing,
and a tampered list."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction

from trial.core import audit_triggers
from trial.participants.models import Participant
from trial.randomization.checks import check_randomization_list_integrity
from trial.randomization.models import Allocation, ListEntry, ListEvent, RandomizationList
from trial.randomization.services import (
    ListFrozenError,
    ListIntegrityError,
    RandomizationError,
    StratumExhaustedError,
    participant_stratum,
    randomization_list_activate,
    randomization_list_create,
)
from trial.workspace.services import participant_enrol as participant_randomize


@pytest.mark.django_db
def test_it_gives_each_unmet_precondition_its_own_message(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = make_participant(consent=False, screened_days_ago=40, qids_sr=5)  # not eligible, no consent, too late
    with pytest.raises(RandomizationError) as exc:
        participant_randomize(participant=p, by=coordinator)
    messages = exc.value.messages
    assert "No signed consent is on file." in messages
    assert any(m.startswith("Eligibility is not confirmed") for m in messages)
    assert any("Baseline must be within 31 days of screening" in m for m in messages)
    assert not Allocation.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_participant_without_stratification_data(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = make_participant()
    p.screening.screening_crp_mg_l = None  # in memory only: what a missing value looks like to the service
    with pytest.raises(ValidationError, match="Screening hs-CRP is not recorded"):
        participant_stratum(p)


@pytest.mark.django_db
def test_it_takes_entries_in_list_order_and_records_who_and_when(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    people = [make_participant(sex="F", screening_crp_mg_l=3.4) for _ in range(3)]
    allocations = [participant_randomize(participant=p, by=coordinator).allocation for p in people]
    assert [a.entry.sequence for a in allocations] == [1, 2, 3]
    assert {a.stratum for a in allocations} == {"CRP>=2|F"}
    first = allocations[0]
    assert first.randomized_by == coordinator and first.randomized_at is not None
    assert first.history.first().history_user == coordinator
    people[0].refresh_from_db()
    assert people[0].status == Participant.Status.RANDOMIZED
    assert people[0].visits.count() == 9  # on-study visits scheduled from the baseline


@pytest.mark.django_db
def test_it_is_idempotent(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    p = make_participant()
    first = participant_randomize(participant=p, by=coordinator)
    again = participant_randomize(participant=p, by=coordinator)
    assert first.created and not again.created
    assert again.allocation.pk == first.allocation.pk
    assert Allocation.objects.count() == 1
    assert ListEntry.objects.filter(allocation__isnull=False).count() == 1


@pytest.mark.django_db
def test_it_only_lets_coordinators_and_investigators_randomize(
    make_participant: Any, active_list: Any, users: Any
) -> None:
    p = make_participant()
    for name in ("rater", "pharmacist", "unblinded", "datamanager"):
        with pytest.raises(PermissionDenied):
            participant_randomize(participant=p, by=users[name])
    assert participant_randomize(participant=p, by=users["investigator"]).created


@pytest.mark.django_db
def test_an_exhausted_stratum_allocates_nothing_and_alerts_the_unblinded_statistician(
    make_participant: Any, users: Any, protocol_loaded: Any, coordinator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rl = randomization_list_create(by=users["unblinded"], per_stratum=2, block_sizes=[2])
    for _ in range(2):
        participant_randomize(participant=make_participant(sex="M", screening_crp_mg_l=1.0), by=coordinator)
    mail.outbox.clear()
    late = make_participant(sex="M", screening_crp_mg_l=1.0)
    # The alert is queued on commit (the test's transaction never commits: run the callbacks).
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(StratumExhaustedError, match="no free entry left in stratum CRP<2\\|M"),
    ):
        participant_randomize(participant=late, by=coordinator)
    late.refresh_from_db()
    assert late.status == Participant.Status.ELIGIBLE and not hasattr(late, "allocation")
    assert Allocation.objects.count() == 2
    assert [m.to for m in mail.outbox] == [[users["unblinded"].email]]
    assert "CRP<2|M" in mail.outbox[0].subject
    assert ListEvent.objects.filter(randomization_list=rl, kind="stratum_exhausted").exists()
    # Other strata carry on.
    assert participant_randomize(participant=make_participant(sex="F"), by=coordinator).created


@pytest.mark.django_db
def test_the_first_allocation_freezes_the_list_and_changes_are_refused_and_logged(
    randomized: Any, active_list: Any, users: Any
) -> None:
    active_list.refresh_from_db()
    assert active_list.frozen_at is not None
    with pytest.raises(ListFrozenError):
        randomization_list_create(by=users["unblinded"], per_stratum=8)
    other = randomization_list_create(by=users["unblinded"], per_stratum=8, activate=False)
    with pytest.raises(ListFrozenError):
        randomization_list_activate(randomization_list=other, by=users["unblinded"])
    refusals = ListEvent.objects.filter(kind="change_refused")
    assert refusals.count() == 2 and all(e.by == users["unblinded"] for e in refusals)
    assert RandomizationList.objects.get(is_active=True) == active_list
    # Below the application, the database refuses to change an entry (append-only trigger).
    with pytest.raises(DatabaseError), transaction.atomic():
        ListEntry.objects.filter(randomization_list=active_list).update(arm="PBO")


def _tamper(entry: ListEntry, arm: str) -> None:
    """Change an entry behind the application's back: drop the trigger, update, put the trigger back."""
    table = ListEntry._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(f'DROP TRIGGER "{table}_append_only_update"')
        else:
            cur.execute(f'DROP TRIGGER "{table}_append_only" ON "{table}"')
        cur.execute(f'UPDATE "{table}" SET arm = %s WHERE id = %s', [arm, entry.pk])  # noqa: S608 - table name from the model
    audit_triggers.install(connection)


@pytest.mark.django_db
def test_a_changed_row_fails_the_hash_check_at_allocation_and_at_start_up(
    make_participant: Any, active_list: Any, coordinator: Any, users: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert check_randomization_list_integrity() == []
    entry = ListEntry.objects.filter(randomization_list=active_list, stratum="CRP>=2|M").order_by("sequence").last()
    _tamper(entry, "PBO" if entry.arm == "IFX" else "IFX")
    mail.outbox.clear()
    late = make_participant(sex="F")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ListIntegrityError):
        participant_randomize(participant=late, by=coordinator)
    assert not Allocation.objects.exists()
    assert ListEvent.objects.filter(kind="integrity_failed").exists()
    assert mail.outbox and "integrity" in mail.outbox[0].subject
    errors = check_randomization_list_integrity()
    assert [e.id for e in errors] == ["stratum.E101"]


@pytest.mark.django_db
def test_an_added_row_fails_the_hash_check(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    ListEntry.objects.create(
        randomization_list=active_list,
        stratum="CRP>=2|F",
        sequence=999,
        block_number=999,
        block_size=4,
        arm="IFX",
        randomization_number="R00001",
    )
    with pytest.raises(ListIntegrityError):
        participant_randomize(participant=make_participant(sex="F"), by=coordinator)


@pytest.mark.django_db
def test_it_refuses_a_baseline_before_screening(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    p = make_participant(screened_days_ago=3)
    with pytest.raises(RandomizationError, match="Baseline cannot be before screening"):
        participant_randomize(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=10))
