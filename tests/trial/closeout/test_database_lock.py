"""The database lock: every casebook locked, no open queries, two approvals by two people; then every
write path is refused except drug accountability; an unlock needs a reason and two people."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.closeout.selectors import database_locked
from trial.closeout.services import (
    database_lock_approve,
    database_unlock_approve,
    database_unlock_request,
)
from trial.core.services import RecordLockedError


def test_it_locks_only_with_both_approvals(locked_casebook: Any, users: dict[str, Any]) -> None:
    first = database_lock_approve(by=users["datamanager"])
    assert first.locked_at is None and database_locked() is None
    second = database_lock_approve(by=users["unblinded"])
    assert second.pk == first.pk and second.locked_at is not None
    assert second.data_manager_approved_by == users["datamanager"]
    assert second.statistician_approved_by == users["unblinded"]


def test_one_person_cannot_approve_twice(locked_casebook: Any, users: dict[str, Any]) -> None:
    database_lock_approve(by=users["datamanager"])
    with pytest.raises(ValidationError, match="already recorded"):
        database_lock_approve(by=users["datamanager"])
    assert database_locked() is None


def test_it_refuses_while_a_casebook_is_unlocked(closed_participant: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Casebooks not locked"):
        database_lock_approve(by=users["datamanager"])


def test_a_blinded_statistician_cannot_approve(locked_casebook: Any, users: dict[str, Any]) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        database_lock_approve(by=users["statistician"])


def test_after_lock_services_refuse_writes(locked_database: Any, users: dict[str, Any], make_participant: Any) -> None:
    with pytest.raises(RecordLockedError, match="database is locked"):
        make_participant()


def test_after_lock_the_bulk_screening_and_end_of_study_services_refuse(
    locked_database: Any, closed_participant: Any, users: dict[str, Any]
) -> None:
    from tests.conftest import ELIGIBLE_SCREENING
    from trial.participants.models import Participant
    from trial.participants.services import (
        EndOfStudyEntry,
        ScreeningEntry,
        ends_of_study_record,
        participants_screen,
    )

    before = Participant.objects.count()
    entry = ScreeningEntry(
        site=closed_participant.site,
        sex="F",
        date_of_birth=date(1980, 1, 15),
        screening=ELIGIBLE_SCREENING | {"screening_date": date.today()},
    )
    with pytest.raises(RecordLockedError, match="database is locked"):
        participants_screen(entries=[entry], by=users["coordinator"])
    end = EndOfStudyEntry(
        participant=closed_participant, outcome="completed", end_date=date.today(), reason="completed"
    )
    with pytest.raises(RecordLockedError, match="database is locked"):
        ends_of_study_record(entries=[end], by=users["coordinator"])
    assert Participant.objects.count() == before


def test_after_lock_the_data_entry_form_refuses_with_the_message(
    locked_database: Any, locked_casebook: Any, login: Any
) -> None:
    client = login("coordinator")
    pid = locked_casebook.participant_id
    url = f"/safety/participants/{pid}/adverse-events/new/"
    # The form's one-time token (a double click makes one record): read it from the page like a browser.
    token = re.search(r'name="submission_token" value="([0-9a-f]{32})"', client.get(url).content.decode())
    response = client.post(
        url,
        {
            "submission_token": token.group(1) if token else "",
            "term": "Headache",
            "onset_date": date.today().isoformat(),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
            "ongoing": "on",
            "action_taken": "none",
        },
    )
    assert response.status_code == 200
    assert "database is locked" in response.content.decode()


def test_after_lock_the_api_refuses(locked_database: Any, locked_casebook: Any, users: dict[str, Any]) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(users["coordinator"])
    response = client.post(f"/api/randomization/participants/{locked_casebook.pk}/randomize/", {}, format="json")
    assert response.status_code == 423  # Locked: the write API's answer to a lock (trial.core.api)
    assert "database is locked" in response.content.decode()


def test_after_lock_seeding_refuses(locked_database: Any) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises((RecordLockedError, CommandError)):
        call_command("seed_demo", "--participants", "2", "--seed", "1")


def test_drug_accountability_stays_open(locked_database: Any, users: dict[str, Any], pharmacy_lot: Any) -> None:
    from trial.pharmacy.services import wastage_record

    wasted = wastage_record(
        lot=pharmacy_lot, by=users["pharmacist"], vials=2, wasted_on=date.today(), reason="Expired at reconciliation"
    )
    assert wasted.pk is not None


def test_unlock_needs_a_reason_and_a_second_person(locked_database: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="reason"):
        database_unlock_request(by=users["datamanager"], reason=" ")
    database_unlock_request(by=users["datamanager"], reason="Late lab correction")
    with pytest.raises(ValidationError, match="second person"):
        database_unlock_approve(by=users["datamanager"])
    assert database_locked() is not None
    unlocked = database_unlock_approve(by=users["unblinded"])
    assert unlocked.unlocked_at is not None and unlocked.unlock_reason == "Late lab correction"
    assert unlocked.history.count() >= 3  # approvals, request, approval: each in the audit trail
    assert database_locked() is None


def test_the_banner_shows_the_lock_on_every_page(locked_database: Any, login: Any) -> None:
    client = login("coordinator")
    for url in ("/", "/participants/", "/queries/"):
        assert "Database locked" in client.get(url).content.decode(), url


def test_after_lock_writes_outside_clinical_records_are_refused_too(
    locked_database: Any, users: dict[str, Any]
) -> None:
    # A new randomization list is not a clinical record: require() refuses it, before anything is written.
    from trial.randomization.models import RandomizationList
    from trial.randomization.services import randomization_list_create

    before = RandomizationList.objects.count()
    with pytest.raises(RecordLockedError, match="database is locked"):
        randomization_list_create(by=users["unblinded"], per_stratum=8)
    assert RandomizationList.objects.count() == before


def test_after_lock_the_unblinded_entry_of_arm_revealing_labs_is_refused(locked_database: Any, users: Any) -> None:
    # The post-baseline inflammatory labs (trial.blinding) are trial data like any other: their entry,
    # their import and the queries raised on them are refused at the capability, before anything is read.
    from trial.access import Capability, require, write_refusal

    assert write_refusal(Capability.ENTER_REVEALING_LABS) is not None
    with pytest.raises(RecordLockedError, match="database is locked"):
        require(users["unblinded"], Capability.ENTER_REVEALING_LABS)


def test_after_lock_the_unblinded_lab_pages_still_read_and_the_import_says_the_database_is_locked(
    locked_database: Any, locked_casebook: Any, login: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login("unblinded")
    visit = locked_casebook.visits.order_by("pk").first()
    assert client.get(f"/visits/{visit.pk}/labs/results/").status_code == 200
    assert client.get("/visits/labs/import/").status_code == 200
    # The lock is what the user hears, before any complaint about the file's rows.
    upload = SimpleUploadedFile(
        "labs.csv", b"participant_id,visit,tube_id,analyte,value\nX,W0,T1,crp,1\n", content_type="text/csv"
    )
    response = client.post("/visits/labs/import/", {"file": upload, "assay_batch": "B1"})
    assert response.status_code == 200 and "database is locked" in response.content.decode()


def test_after_lock_a_pharmacy_query_step_is_refused_by_the_record_guard(
    locked_database: Any, locked_casebook: Any, users: dict[str, Any]
) -> None:
    # A pharmacy-only query is the pharmacy's (Capability.DISPENSE), which stays open at lock for drug
    # accountability; the query itself is a record of the participant's, refused while the database is locked.
    from trial.access import Capability, write_refusal
    from trial.queries.models import DataQuery, QueryMessage
    from trial.queries.services import query_answer, query_step_capability

    query = DataQuery.objects.create(
        participant=locked_casebook,
        form="pharmacy",
        field="dispensing",
        text="Bag not given",
        audience=DataQuery.Audience.PHARMACY,
        source=DataQuery.Source.RECONCILIATION,
    )
    assert query_step_capability(query, Capability.ANSWER_QUERIES) == Capability.DISPENSE
    assert write_refusal(Capability.DISPENSE) is None
    messages = QueryMessage.objects.count()
    with pytest.raises(RecordLockedError, match="database is locked"):
        query_answer(query=query, text="Given at 10:40", by=users["pharmacist"])
    query.refresh_from_db()
    assert query.status == DataQuery.Status.OPEN and QueryMessage.objects.count() == messages
