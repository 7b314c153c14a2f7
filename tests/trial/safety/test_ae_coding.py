"""Adverse-event terms coded against the dictionary: automatically when the term matches an LLT,
by the data manager (with a reason, kept in the history) when it does not. Raters never see them."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.conftest import PROTOCOL_FILES
from trial.safety.coding import dictionary, term_lookup
from trial.safety.models import AdverseEvent
from trial.safety.services import adverse_event_code, adverse_event_record

pytestmark = pytest.mark.django_db

BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin", "monitor"]
TABLE_2 = [
    "headaches", "coughing", "sore throat", "insomnia", "diarrhea", "upper respiratory infection",
    "nasal congestion", "myalgia", "panic attacks", "rash", "fever", "urinary leukocyte esterase",
    "sinus congestion", "yeast infection", "urinary white blood cells",
]  # fmt: skip
COMMON = ["headache", "nausea", "fatigue", "infusion reaction", "dizziness", "insomnia", "rash"]


def ae_data(term="Headache", **kw):
    return {
        "term": term,
        "onset_date": date.today(),
        "ongoing": True,
        "severity": "mild",
        "relatedness": "possible",
        "action_taken": "none",
        "outcome": "recovering",
    } | kw


def test_the_dictionary_codes_every_table_2_term_and_the_common_events():
    for term in TABLE_2 + COMMON:
        assert term_lookup(term) is not None, term
    assert term_lookup("Fever") == term_lookup(" fever ")
    assert (term_lookup("FEVER").pt, term_lookup("fever").soc) == (
        "Pyrexia",
        "General disorders and administration site conditions",
    )
    assert all(t.llt and t.pt and t.soc for t in dictionary().values())


def test_a_matching_term_is_coded_on_save_ignoring_case_and_audited(randomized, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("HEADACHE"), by=coordinator)
    ae.refresh_from_db()
    assert (ae.coding, ae.coded_llt, ae.coded_pt, ae.coded_soc) == (
        "auto", "Headache", "Headache", "Nervous system disorders"
    )  # fmt: skip
    first = ae.history.first()
    assert (first.coded_pt, first.history_user.username) == ("Headache", "coordinator")
    assert ae.term == "HEADACHE"  # the verbatim term is the site's


def test_an_unknown_term_is_left_uncoded_and_flagged_for_the_data_manager(login, randomized, coordinator):
    adverse_event_record(participant=randomized, data=ae_data("Felt strange after lunch"), by=coordinator)
    ae = AdverseEvent.objects.get()
    assert ae.coding == "uncoded" and not ae.coded_pt
    c = login("datamanager")
    page = c.get("/safety/coding/").content.decode()
    assert "Felt strange after lunch" in page and f"/safety/adverse-events/{ae.pk}/code/" in page
    assert ">AE coding (1)</a>" in c.get("/").content.decode()


def test_the_data_manager_codes_it_with_a_reason_and_the_history_keeps_it(login, randomized, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("Tummy upset"), by=coordinator)
    c = login("datamanager")
    url = f"/safety/adverse-events/{ae.pk}/code/"
    r = c.post(url, {"version": str(ae.version), "llt": "Nausea", "reason": "Participant describes nausea"})
    assert r.status_code == 302
    ae.refresh_from_db()
    assert (ae.coding, ae.coded_llt, ae.coded_pt) == ("manual", "Nausea", "Nausea")
    assert ae.term == "Tummy upset"
    page = c.get(url).content.decode()
    assert "Coded to Nausea (Nausea; Gastrointestinal disorders): Participant describes nausea" in page
    assert "datamanager" in page
    assert ">AE coding (0)</a>" in page


def test_coding_needs_a_dictionary_term_and_a_reason_both_said_at_once(login, users, randomized, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("Tummy upset"), by=coordinator)
    r = login("datamanager").post(f"/safety/adverse-events/{ae.pk}/code/", {"version": str(ae.version), "llt": ""})
    errors = r.context["form"].errors
    assert errors["llt"] == ["Choose a lowest level term of the dictionary."]
    assert errors["reason"] == ["Say why this term is coded so (it goes into the audit trail)."]
    with pytest.raises(ValidationError) as exc:
        adverse_event_code(adverse_event=ae, llt="Tummy", reason="", by=users["datamanager"], version=ae.version)
    assert set(exc.value.message_dict) == {"llt", "reason"}


def test_only_the_data_manager_codes(randomized, users, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("Tummy upset"), by=coordinator)
    for name in ("coordinator", "investigator", "monitor", "rater"):
        with pytest.raises(PermissionDenied):
            adverse_event_code(adverse_event=ae, llt="Nausea", reason="x", by=users[name], version=ae.version)


def test_a_changed_term_is_coded_again_and_an_unchanged_one_keeps_its_manual_coding(randomized, users, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("Tummy upset"), by=coordinator)
    ae = adverse_event_code(
        adverse_event=ae, llt="Nausea", reason="Nausea", by=users["datamanager"], version=ae.version
    )
    ae = adverse_event_record(
        participant=randomized,
        data=ae_data("Tummy upset", severity="moderate"),
        by=coordinator,
        instance=ae,
        reason="Severity corrected",
        version=ae.version,
    )
    assert (ae.coding, ae.coded_llt) == ("manual", "Nausea")
    ae = adverse_event_record(
        participant=randomized,
        data=ae_data("Vomiting"),
        by=coordinator,
        instance=ae,
        reason="Term corrected",
        version=ae.version,
    )
    assert (ae.coding, ae.coded_llt, ae.coded_pt) == ("auto", "Vomiting", "Vomiting")


def test_raters_see_no_coding_page(login, randomized, coordinator):
    ae = adverse_event_record(participant=randomized, data=ae_data("Tummy upset"), by=coordinator)
    c = login("rater")
    assert c.get("/safety/coding/").status_code == 403
    assert c.get(f"/safety/adverse-events/{ae.pk}/code/").status_code == 403
    assert "AE coding" not in c.get("/").content.decode()


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_the_coding_pages_name_no_arm_for_any_blinded_role(client, users, trial_world, coordinator):
    from tests.trial.blinding.test_leak_scan import arm_disclosures

    participant = trial_world.participants[0]
    ae = adverse_event_record(participant=participant, data=ae_data("Tummy upset"), by=coordinator)
    for name in BLINDED:
        client.force_login(users[name])
        for url in ("/safety/coding/", f"/safety/adverse-events/{ae.pk}/code/"):
            r = client.get(url)
            assert r.status_code in (200, 403), (name, url)
            assert not arm_disclosures(r.content.decode()), (name, url)
