"""Screening, consent and randomization through the write API: the same services as the web pages,
audited, with version and reason for change, and the blind."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.trial.api.conftest import arm_keys, screening_body
from trial.participants.models import Consent, Participant, Screening

pytestmark = pytest.mark.django_db


def _screen(api: Any, **overrides: Any) -> Any:
    body = {"site": "01", "sex": "F", "date_of_birth": "1980-01-15"} | screening_body(**overrides)
    return api("coordinator").post("/api/participants/screen/", body, format="json")


def test_it_screens_a_person_through_the_service(api: Any, site: Any, coordinator: Any) -> None:
    response = _screen(api)
    assert response.status_code == 201, response.json()
    body = response.json()
    participant = Participant.objects.get(participant_id=body["participant_id"])
    assert participant.status == Participant.Status.ELIGIBLE and body["eligible"] is True
    screening = participant.screening
    assert body["version"] == screening.version
    snapshot = screening.history.first()
    assert snapshot.history_user == coordinator and snapshot.history_change_reason == "Initial entry"
    assert arm_keys(body) == []


def test_a_screen_failure_is_recorded_with_its_criteria(api: Any, site: Any) -> None:
    body = _screen(api, qids_sr=3).json()
    assert body["status"] == Participant.Status.SCREEN_FAILED and body["eligible"] is False
    assert body["failed_criteria"]


def test_the_form_rules_answer_400_per_field(api: Any, site: Any) -> None:
    response = _screen(api, mmse=999, screening_date=date.today() + timedelta(days=5))
    assert response.status_code == 400
    errors = response.json()
    assert "mmse" in errors and "screening_date" in errors
    assert not Participant.objects.exists()


def test_an_unknown_criterion_is_refused(api: Any, site: Any) -> None:
    body = {"site": "01", "sex": "F", "date_of_birth": "1980-01-15"} | screening_body()
    body["criteria"] = body["criteria"] | {"no_such_criterion": True}
    response = api("coordinator").post("/api/participants/screen/", body, format="json")
    assert response.status_code == 400 and "no_such_criterion" in response.json()["criteria"][0]


@pytest.mark.parametrize("username", ["rater", "datamanager", "statistician", "pharmacist"])
def test_roles_that_do_not_enter_data_cannot_screen(api: Any, site: Any, username: str) -> None:
    body = {"site": "01", "sex": "F", "date_of_birth": "1980-01-15"} | screening_body()
    assert api(username).post("/api/participants/screen/", body, format="json").status_code == 403
    assert not Participant.objects.exists()


def _edit(api: Any, participant: Any, **fields: Any) -> Any:
    url = f"/api/participants/{participant.participant_id}/screening/"
    return api("coordinator").put(url, screening_body() | fields, format="json")


def test_a_screening_edit_writes_old_new_and_the_reason_to_the_audit_trail(
    api: Any, make_participant: Any, coordinator: Any
) -> None:
    participant = make_participant(consent=False)
    screening = participant.screening
    was = screening.qids_sr
    response = _edit(api, participant, qids_sr=was + 2, version=screening.version, reason="Transcription error")
    assert response.status_code == 200, response.json()
    screening.refresh_from_db()
    assert screening.qids_sr == was + 2 and response.json()["version"] == screening.version
    new, old = screening.history.all()[:2]
    assert (old.qids_sr, new.qids_sr) == (was, was + 2)
    assert new.history_change_reason == "Transcription error" and new.history_user == coordinator


def test_a_screening_edit_from_a_stale_version_is_a_conflict(api: Any, make_participant: Any) -> None:
    participant = make_participant(consent=False)
    version = participant.screening.version
    assert _edit(api, participant, qids_sr=20, version=version, reason="First").status_code == 200
    response = _edit(api, participant, qids_sr=21, version=version, reason="Second")
    assert response.status_code == 409
    assert response.json()["current_version"] == version + 1 and "after you opened it" in response.json()["detail"]
    assert Screening.objects.get(pk=participant.screening.pk).qids_sr == 20


def test_a_screening_edit_without_a_version_is_a_conflict(api: Any, make_participant: Any) -> None:
    participant = make_participant(consent=False)
    response = _edit(api, participant, qids_sr=20, reason="No version")
    assert response.status_code == 409 and response.json()["code"] == "version_missing"
    assert response.json()["current_version"] == participant.screening.version


def test_a_screening_edit_without_a_reason_is_a_400(api: Any, make_participant: Any) -> None:
    participant = make_participant(consent=False)
    response = _edit(api, participant, qids_sr=20, version=participant.screening.version)
    assert response.status_code == 400 and "reason" in response.json()
    assert Screening.objects.get(pk=participant.screening.pk).version == participant.screening.version


def test_it_records_consent(api: Any, make_participant: Any, coordinator: Any) -> None:
    participant = make_participant(consent=False)
    url = f"/api/participants/{participant.participant_id}/consent/"
    body = {"consent_date": date.today().isoformat(), "participant_signed": True, "copy_given": True}
    response = api("coordinator").post(url, body, format="json")
    assert response.status_code == 201, response.json()
    consent = Consent.objects.get(participant=participant)
    assert consent.taken_by == coordinator and response.json()["consent_version"] == consent.form_version
    assert consent.history.first().history_user == coordinator
    assert api("rater").post(url, body, format="json").status_code == 403


def test_consent_rules_of_the_form_apply(api: Any, make_participant: Any) -> None:
    participant = make_participant(consent=False)
    url = f"/api/participants/{participant.participant_id}/consent/"
    body = {"consent_date": (date.today() + timedelta(days=2)).isoformat(), "participant_signed": True}
    body["copy_given"] = True
    response = api("coordinator").post(url, body, format="json")
    assert response.status_code == 400 and "consent_date" in response.json()


def test_randomize_answers_the_number_and_date_never_the_arm(
    api: Any, make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    participant = make_participant()
    url = f"/api/participants/{participant.participant_id}/randomize/"
    response = api("coordinator").post(url, {}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    participant.refresh_from_db()
    assert body["randomization_number"] == participant.allocation.entry.randomization_number
    assert body["created"] is True and body["randomized_at"]
    assert arm_keys(body) == []
    assert participant.allocation.history.first().history_user == coordinator
    assert participant.visits.count() > 0  # enrolment scheduled the visits
    again = api("coordinator").post(url, {}, format="json")
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["randomization_number"] == body["randomization_number"]


def test_randomize_by_investigator_is_blind_too(api: Any, make_participant: Any, active_list: Any) -> None:
    participant = make_participant()
    body = api("investigator").post(f"/api/participants/{participant.participant_id}/randomize/", {}, format="json")
    assert body.status_code == 201 and arm_keys(body.json()) == []


def test_randomize_refuses_a_baseline_outside_the_screening_window(
    api: Any, make_participant: Any, active_list: Any
) -> None:
    participant = make_participant(screened_days_ago=60)
    url = f"/api/participants/{participant.participant_id}/randomize/"
    response = api("coordinator").post(url, {"baseline_date": date.today().isoformat()}, format="json")
    assert response.status_code == 400 and "baseline_date" in response.json()
    assert not hasattr(Participant.objects.get(pk=participant.pk), "allocation")


@pytest.mark.parametrize("username", ["rater", "pharmacist", "datamanager", "unblinded"])
def test_roles_that_do_not_randomize_get_403(api: Any, make_participant: Any, active_list: Any, username: str) -> None:
    participant = make_participant()
    url = f"/api/participants/{participant.participant_id}/randomize/"
    assert api(username).post(url, {}, format="json").status_code == 403
