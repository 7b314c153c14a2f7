"""Adverse events and concomitant medications through the write API."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.trial.api.conftest import arm_keys
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation

pytestmark = pytest.mark.django_db

AE = {
    "term": "Headache",
    "onset_date": date.today().isoformat(),
    "ongoing": True,
    "severity": "mild",
    "relatedness": "possible",
    "action_taken": "none",
    "outcome": "recovering",
}
CONMED = {"name": "Sertraline", "drug_class": "antidepressant", "dose": "50", "start_date": "2020-01-01"}


def test_it_records_and_corrects_an_adverse_event(api: Any, randomized: Any, coordinator: Any) -> None:
    client = api("coordinator")
    created = client.post(f"/api/participants/{randomized.participant_id}/adverse-events/", AE, format="json")
    assert created.status_code == 201, created.json()
    ae = AdverseEvent.objects.get(pk=created.json()["id"])
    assert ae.term == "Headache" and ae.history.first().history_user == coordinator
    assert arm_keys(created.json()) == []
    url = f"/api/adverse-events/{ae.pk}/"
    edit = AE | {"severity": "moderate", "version": ae.version, "reason": "Investigator reassessed"}
    changed = client.put(url, edit, format="json")
    assert changed.status_code == 200, changed.json()
    ae.refresh_from_db()
    latest, before = ae.history.all()[:2]
    assert (before.severity, latest.severity) == ("mild", "moderate")
    assert latest.history_change_reason == "Investigator reassessed"
    assert client.put(url, edit, format="json").status_code == 409  # that version is gone
    assert client.put(url, AE | {"reason": "x"}, format="json").status_code == 409  # no version
    assert client.put(url, AE | {"version": ae.version}, format="json").status_code == 400  # no reason
    assert AdverseEvent.objects.get(pk=ae.pk).version == ae.version


def test_a_serious_event_needs_a_criterion_as_on_the_web(api: Any, randomized: Any) -> None:
    body = AE | {"serious": True}
    response = api("coordinator").post(
        f"/api/participants/{randomized.participant_id}/adverse-events/", body, format="json"
    )
    assert response.status_code == 400
    assert not AdverseEvent.objects.exists()


@pytest.mark.parametrize("username", ["rater", "datamanager", "pharmacist", "statistician"])
def test_roles_that_do_not_enter_data_cannot_record_an_adverse_event(api: Any, randomized: Any, username: str) -> None:
    response = api(username).post(f"/api/participants/{randomized.participant_id}/adverse-events/", AE, format="json")
    assert response.status_code == 403
    assert not AdverseEvent.objects.exists()


def test_it_records_and_corrects_a_medication(api: Any, randomized: Any, coordinator: Any) -> None:
    client = api("coordinator")
    created = client.post(f"/api/participants/{randomized.participant_id}/conmeds/", CONMED, format="json")
    assert created.status_code == 201, created.json()
    med = ConcomitantMedication.objects.get(pk=created.json()["id"])
    assert med.history.first().history_user == coordinator and created.json()["prohibited"] is False
    url = f"/api/conmeds/{med.pk}/"
    edit = CONMED | {"dose": "100", "version": med.version, "reason": "Dose increased"}
    changed = client.put(url, edit, format="json")
    assert changed.status_code == 200, changed.json()
    latest, before = ConcomitantMedication.objects.get(pk=med.pk).history.all()[:2]
    assert (float(before.dose), float(latest.dose)) == (50.0, 100.0)
    assert latest.history_change_reason == "Dose increased"
    assert client.put(url, edit, format="json").status_code == 409
    assert client.put(url, CONMED | {"version": med.version + 1}, format="json").status_code == 400
    assert api("rater").put(url, edit, format="json").status_code == 403


def test_a_prohibited_medication_records_a_deviation(api: Any, randomized: Any) -> None:
    body = CONMED | {"name": "Ibuprofen", "drug_class": "nsaid", "dose": "400"}
    response = api("coordinator").post(f"/api/participants/{randomized.participant_id}/conmeds/", body, format="json")
    assert response.status_code == 201 and response.json()["prohibited"] is True
    assert ProtocolDeviation.objects.filter(participant=randomized).exists()


def test_another_sites_record_is_not_found(api: Any, randomized: Any, users: dict[str, Any]) -> None:
    from trial.accounts.services import site_membership_revoke

    created = api("coordinator").post(f"/api/participants/{randomized.participant_id}/conmeds/", CONMED, format="json")
    site_membership_revoke(by=users["admin"], account=users["investigator"], site=randomized.site, reason="Moved")
    outsider = api("investigator")
    url = f"/api/conmeds/{created.json()['id']}/"
    assert outsider.put(url, CONMED | {"version": 1, "reason": "x"}, format="json").status_code == 404
    assert (
        outsider.post(f"/api/participants/{randomized.participant_id}/conmeds/", CONMED, format="json").status_code
        == 404
    )
