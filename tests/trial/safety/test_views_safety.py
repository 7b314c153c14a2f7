"""Adverse events, concomitant medications and deviations through the web forms."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail

from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation

pytestmark = pytest.mark.django_db

TODAY = date.today().isoformat()
AE = {
    "term": "Headache",
    "onset_date": TODAY,
    "ongoing": "on",
    "severity": "mild",
    "relatedness": "possible",
    "action_taken": "none",
    "outcome": "recovering",
}


def test_it_records_an_adverse_event(login, randomized):
    r = login("coordinator").post(f"/safety/participants/{randomized.participant_id}/adverse-events/new/", AE)
    assert r.status_code == 302
    assert AdverseEvent.objects.get().term == "Headache"
    assert mail.outbox == []


def test_an_sae_needs_a_criterion_shown_next_to_the_field(login, randomized):
    r = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/adverse-events/new/", AE | {"serious": "on"}
    )
    assert r.context["form"].errors["serious"] == ["A serious adverse event needs at least one seriousness criterion."]
    assert 'value="Headache"' in r.content.decode()
    assert not AdverseEvent.objects.exists()


def test_an_sae_notifies_the_investigators_at_once(login, randomized, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = login("coordinator").post(
            f"/safety/participants/{randomized.participant_id}/adverse-events/new/",
            AE | {"term": "Pneumonia", "serious": "on", "sae_hospitalization": "on"},
        )
    assert r.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["investigator@example.org"]
    assert "Pneumonia" in message.subject and randomized.participant_id in message.subject
    for arm_word in ("Infliximab", "Placebo", "IFX", "PBO"):
        assert arm_word not in message.body


def test_editing_an_adverse_event_needs_a_reason_and_keeps_history(login, randomized):
    c = login("coordinator")
    c.post(f"/safety/participants/{randomized.participant_id}/adverse-events/new/", AE)
    ae = AdverseEvent.objects.get()
    edit = AE | {"severity": "moderate", "version": str(ae.version)}
    r = c.post(f"/safety/adverse-events/{ae.pk}/", edit)
    assert "reason" in r.context["form"].errors
    assert c.post(f"/safety/adverse-events/{ae.pk}/", edit | {"reason": "Severity re-graded"}).status_code == 302
    ae.refresh_from_db()
    assert ae.severity == "moderate" and ae.history.count() == 2


def test_an_adverse_event_edit_conflict_shows_both_versions(login, randomized, users):
    from trial.safety.services import adverse_event_record

    c = login("coordinator")
    c.post(f"/safety/participants/{randomized.participant_id}/adverse-events/new/", AE)
    ae = AdverseEvent.objects.get()
    adverse_event_record(
        participant=randomized,
        data={"severity": "severe"},
        by=users["investigator"],
        instance=ae,
        reason="Investigator review",
        version=1,
    )
    r = c.post(f"/safety/adverse-events/{ae.pk}/", AE | {"severity": "moderate", "version": "1", "reason": "mine"})
    assert r.status_code == 409
    assert ("Severity", "severe", "moderate", True) in r.context["rows"]
    ae.refresh_from_db()
    assert ae.severity == "severe"


def test_a_prohibited_medication_records_a_deviation(login, randomized):
    r = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/conmeds/new/",
        {"name": "Ibuprofen", "drug_class": "nsaid", "dose": "400", "dose_unit": "mg", "start_date": TODAY},
        follow=True,
    )
    assert "a protocol deviation was recorded" in r.content.decode()
    med = ConcomitantMedication.objects.get()
    assert med.prohibited
    assert ProtocolDeviation.objects.get().concomitant_medication == med


def test_aspirin_81_mg_is_allowed(login, randomized):
    login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/conmeds/new/",
        {"name": "Aspirin", "drug_class": "aspirin", "dose": "81", "dose_unit": "mg", "start_date": TODAY},
    )
    assert not ConcomitantMedication.objects.get().prohibited
    assert not ProtocolDeviation.objects.exists()


def test_a_medication_cannot_stop_before_it_starts(login, randomized):
    r = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/conmeds/new/",
        {
            "name": "Sertraline",
            "drug_class": "antidepressant",
            "start_date": TODAY,
            "end_date": (date.today() - timedelta(days=3)).isoformat(),
        },
    )
    assert r.context["form"].errors["end_date"] == ["The medication cannot stop before it starts."]


def test_it_records_a_protocol_deviation(login, randomized):
    c = login("coordinator")
    r = c.post(
        f"/safety/participants/{randomized.participant_id}/deviations/new/",
        {"deviation_date": TODAY, "category": "visit_window", "description": ""},
    )
    assert "description" in r.context["form"].errors
    r = c.post(
        f"/safety/participants/{randomized.participant_id}/deviations/new/",
        {"deviation_date": TODAY, "category": "visit_window", "description": "Week 4 visit 5 days late"},
    )
    assert r.status_code == 302 and ProtocolDeviation.objects.get().category == "visit_window"


def test_a_rater_cannot_record_safety_data(login, randomized):
    assert (
        login("rater").post(f"/safety/participants/{randomized.participant_id}/adverse-events/new/", AE).status_code
        == 403
    )
