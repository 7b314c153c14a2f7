"""Screening, consent, randomize and end of study through the web forms."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import ELIGIBLE_SCREENING
from trial.participants.models import Participant
from trial.participants.services import attested_criteria

pytestmark = pytest.mark.django_db


def screening_post(**overrides):
    """The screening form as a browser would post it, for an eligible 40-year-old woman."""
    today = date.today()
    data = {
        "site": "01",
        "sex": "F",
        "date_of_birth": f"{today.year - 40}-01-15",
        "screening_date": (today - timedelta(days=2)).isoformat(),
        "action": "save",
    }
    for key, value in ELIGIBLE_SCREENING.items():
        if key in attested_criteria():
            data[key] = "yes" if value else "no"
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        else:
            data[key] = str(value)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_records_an_eligible_participant_and_shows_their_page(login, protocol_loaded):
    c = login("coordinator")
    r = c.post("/participants/screen/", screening_post())
    p = Participant.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/participants/{p.participant_id}/"
    assert p.status == Participant.Status.ELIGIBLE
    page = c.get(r["Location"]).content.decode()
    assert "Record consent" in page and p.participant_id in page


def test_it_records_a_screen_failure_with_its_reasons(login, protocol_loaded):
    c = login("coordinator")
    r = c.post("/participants/screen/", screening_post(mmse="25", tuberculosis_risk="yes"), follow=True)
    p = Participant.objects.get()
    assert p.status == Participant.Status.SCREEN_FAILED
    assert set(p.screening.failed_criteria) == {"mmse_lt_28", "tuberculosis_risk"}
    body = r.content.decode()
    assert "screen failure" in body
    assert "MMSE &lt; 28" in body and "History of tuberculosis" in body


def test_check_eligibility_lists_failed_criteria_keeps_input_and_saves_nothing(login, protocol_loaded):
    c = login("coordinator")
    r = c.post("/participants/screen/", screening_post(action="check", qids_sr="9", hamd_item3="3"))
    body = r.content.decode()
    assert r.status_code == 200 and Participant.objects.count() == 0
    assert "Not eligible" in body
    assert 'data-code="qids_sr_ge_14"' in body and 'data-code="active_suicidal_ideation"' in body
    assert 'name="qids_sr" value="9"' in body


def test_the_eligibility_endpoint_answers_from_partial_input(login, protocol_loaded):
    c = login("coordinator")
    partial = {"sex": "F", "date_of_birth": "1950-01-01", "screening_date": date.today().isoformat(), "mmse": "29"}
    r = c.post("/participants/eligibility/", partial).json()
    assert r["eligible"] is False and r["decided"] is False
    assert [f["code"] for f in r["failed"]] == ["age_25_60"]
    assert "major_depression_scid" in [m["code"] for m in r["missing"]]
    assert c.post("/participants/eligibility/", screening_post()).json()["eligible"] is True


def test_an_out_of_range_measure_reenders_with_the_message_and_every_value_kept(login, protocol_loaded):
    c = login("coordinator")
    r = c.post("/participants/screen/", screening_post(mmse="31", qids_sr="17"))
    body = r.content.decode()
    assert r.status_code == 200 and Participant.objects.count() == 0
    assert "MMSE must be between 0 and 30; 31 is out of range." in body
    assert 'name="mmse" value="31"' in body and 'name="qids_sr" value="17"' in body
    assert 'value="yes" checked' in body or 'value="yes" id="id_major_depression_scid_0" checked' in body


def test_every_attested_criterion_must_be_answered_before_saving(login, protocol_loaded):
    c = login("coordinator")
    r = c.post("/participants/screen/", screening_post(cancer_history=None))
    assert Participant.objects.count() == 0
    assert r.context["form"].errors["cancer_history"] == ["Answer yes or no."]


def test_the_screening_form_lists_every_criterion_of_the_protocol(login, protocol_loaded):
    from trial.protocol.selectors import protocol

    body = login("coordinator").get("/participants/screen/").content.decode()
    cfg = protocol()
    for crit in cfg.inclusion + cfg.exclusion:
        if not crit.computed:
            assert f'name="{crit.code}"' in body
    for measure in ("qids_sr", "mmse", "mgh_s", "hamd_item3", "screening_crp_mg_l", "date_of_birth"):
        assert f'name="{measure}"' in body


def test_editing_screening_needs_a_reason_and_re_evaluates_eligibility(login, make_participant):
    p = make_participant(consent=False)
    c = login("coordinator")
    url = f"/participants/{p.participant_id}/screening/"
    form = screening_post(qids_sr="10", version=str(p.screening.version))
    form.pop("sex"), form.pop("date_of_birth"), form.pop("site")
    r = c.post(url, form)
    assert r.context["form"].errors["reason"] == ["This record was saved before: give a reason for the change."]
    r = c.post(url, form | {"reason": "QIDS-SR re-scored from source"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == Participant.Status.SCREEN_FAILED and p.screening.qids_sr == 10


def test_consent_then_randomize_shows_the_randomization_number_only(login, make_participant, active_list):
    p = make_participant(consent=False)
    c = login("coordinator")
    r = c.post(
        f"/participants/{p.participant_id}/consent/",
        {
            "consent_date": date.today().isoformat(),
            "consent_version": "v1.0",
            "participant_signed": "on",
            "copy_given": "on",
        },
    )
    assert r.status_code == 302 and p.consents.count() == 1
    page = c.get(f"/participants/{p.participant_id}/").content.decode()
    assert "Randomize" in page
    confirm = c.get(f"/participants/{p.participant_id}/randomize/").content.decode()
    assert "randomization number only" in confirm
    r = c.post(
        f"/participants/{p.participant_id}/randomize/",
        {"baseline_date": date.today().isoformat(), "confirm": "on"},
        follow=True,
    )
    p.refresh_from_db()
    number = p.allocation.entry.randomization_number
    body = r.content.decode()
    assert p.status == Participant.Status.RANDOMIZED
    assert f"randomization number {number}" in body
    assert p.visits.count() == 9


def test_randomize_needs_the_confirmation_tick(login, make_participant, active_list):
    p = make_participant()
    r = login("coordinator").post(
        f"/participants/{p.participant_id}/randomize/", {"baseline_date": date.today().isoformat()}
    )
    assert r.context["form"].errors["confirm"] == ["Tick the confirmation to randomize."]
    p.refresh_from_db()
    assert p.status == Participant.Status.ELIGIBLE


def test_baseline_must_fall_within_a_month_of_screening(login, make_participant, active_list):
    p = make_participant(screened_days_ago=40)
    r = login("coordinator").post(
        f"/participants/{p.participant_id}/randomize/", {"baseline_date": date.today().isoformat(), "confirm": "on"}
    )
    assert "within 31 days of screening" in r.context["form"].errors["baseline_date"][0]
    p.refresh_from_db()
    assert p.status == Participant.Status.ELIGIBLE


def test_randomization_refusals_are_shown_not_raised(login, make_participant, active_list):
    p = make_participant(consent=False)
    r = login("coordinator").post(
        f"/participants/{p.participant_id}/randomize/", {"baseline_date": date.today().isoformat(), "confirm": "on"}
    )
    assert r.status_code == 200
    assert "No signed consent is on file." in r.context["form"].non_field_errors()


def test_consent_unsigned_is_refused_next_to_the_field(login, make_participant):
    p = make_participant(consent=False)
    r = login("coordinator").post(
        f"/participants/{p.participant_id}/consent/",
        {"consent_date": date.today().isoformat(), "consent_version": "v1.0"},
    )
    assert "must be signed" in r.context["form"].errors["participant_signed"][0]
    assert p.consents.count() == 0


def test_end_of_study_withdrawal(login, randomized):
    url = f"/participants/{randomized.participant_id}/end-of-study/"
    c = login("coordinator")
    r = c.post(url, {"outcome": "withdrawn", "end_date": date.today().isoformat(), "end_reason": "completed"})
    assert r.context["form"].errors["end_reason"] == ["Give the reason for withdrawal."]
    r = c.post(
        url,
        {
            "outcome": "withdrawn",
            "end_date": date.today().isoformat(),
            "end_reason": "adverse event",
            "details": "Rash after second infusion",
        },
    )
    randomized.refresh_from_db()
    assert r.status_code == 302 and randomized.status == Participant.Status.WITHDRAWN


def test_a_rater_cannot_screen(login, protocol_loaded):
    assert login("rater").post("/participants/screen/", screening_post()).status_code == 403
    assert Participant.objects.count() == 0
