"""Every visit form through the browser's path: saved through the services, errors re-rendered with
the input kept, a reason asked when editing, conflicts shown instead of overwritten."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trial.queries.models import DataQuery
from trial.visits import services
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, Visit, VitalSigns

pytestmark = pytest.mark.django_db

ITEMS = {f"item_{i}": "1" for i in range(1, 18)}


def through_warnings(client, url, data, **kwargs):
    """Post, and confirm the soft-check warnings the form shows ("Save anyway"), as a user would."""
    r = client.post(url, data, **kwargs)
    if r.context and r.context.get("warnings_digest"):
        r = client.post(url, data | {"warnings_seen": r.context["warnings_digest"]}, **kwargs)
    return r


def test_it_saves_a_hamd_and_derives_the_total(login, baseline_visit):
    r = login("rater").post(f"/visits/{baseline_visit.pk}/hamd/", ITEMS | {"item_1": "3"})
    assert r.status_code == 302 and r["Location"] == f"/visits/{baseline_visit.pk}/"
    hamd = HamD17.objects.get(visit=baseline_visit)
    assert hamd.total == 19
    assert hamd.history.first().history_user.username == "rater"


def test_an_out_of_range_item_is_shown_next_to_the_item_with_every_value_kept(login, baseline_visit):
    r = login("coordinator").post(f"/visits/{baseline_visit.pk}/hamd/", ITEMS | {"item_4": "3", "item_9": "2"})
    body = r.content.decode()
    assert r.status_code == 200 and not HamD17.objects.exists()
    assert r.context["form"].errors["item_4"] == ["Item 4 (Insomnia: early) scores 0 to 2; 3 is out of range."]
    assert 'name="item_4" value="3"' in body and 'name="item_9" value="2"' in body
    assert "Nothing was saved" in body


def test_the_hamd_page_shows_item_names_ranges_and_anchors(login, baseline_visit):
    body = login("rater").get(f"/visits/{baseline_visit.pk}/hamd/").content.decode()
    assert "3 Suicide" in body and "17 Insight" in body
    assert "4 attempt at suicide" in body
    assert 'name="item_3"' in body and 'max="4"' in body and 'max="2"' in body
    assert 'id="hamd-total"' in body


def test_the_hamd_form_asks_for_the_visit_date_when_the_visit_is_not_done(login, enrolled_a_month_ago):
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    c = login("rater")
    assert 'name="visit_date"' in c.get(f"/visits/{week1.pk}/hamd/").content.decode()
    r = through_warnings(c, f"/visits/{week1.pk}/hamd/", ITEMS | {"visit_date": week1.scheduled_date.isoformat()})
    assert r.status_code == 302
    week1.refresh_from_db()
    assert week1.status == Visit.Status.DONE and week1.actual_date == week1.scheduled_date


def test_editing_a_saved_hamd_needs_a_reason(login, baseline_visit, users):
    saved = services.hamd_record(visit=baseline_visit, items=dict.fromkeys(range(1, 18), 1), by=users["rater"])
    c = login("rater")
    page = c.get(f"/visits/{baseline_visit.pk}/hamd/").content.decode()
    assert 'name="version" value="1"' in page and 'name="reason"' in page
    form = ITEMS | {"item_2": "2", "version": str(saved.version)}
    r = c.post(f"/visits/{baseline_visit.pk}/hamd/", form)
    assert r.context["form"].errors["reason"] == ["This record was saved before: give a reason for the change."]
    assert 'name="item_2" value="2"' in r.content.decode()
    r = c.post(f"/visits/{baseline_visit.pk}/hamd/", form | {"reason": "Item 2 misread"})
    assert r.status_code == 302
    saved.refresh_from_db()
    assert saved.item_2 == 2 and saved.history.first().history_change_reason == "Item 2 misread"


def test_the_second_user_to_save_gets_the_conflict_page_with_both_versions(login, baseline_visit, users):
    saved = services.hamd_record(visit=baseline_visit, items=dict.fromkeys(range(1, 18), 1), by=users["rater"])
    # Someone else saves version 1 -> 2 while this user still has version 1 open.
    services.hamd_record(
        visit=baseline_visit,
        items=dict.fromkeys(range(1, 18), 1) | {5: 2},
        by=users["coordinator"],
        reason="Item 5 corrected",
        version=saved.version,
    )
    r = login("rater").post(
        f"/visits/{baseline_visit.pk}/hamd/",
        ITEMS | {"item_5": "0", "item_7": "3", "version": "1", "reason": "My correction"},
    )
    body = r.content.decode()
    assert r.status_code == 409
    assert "Conflict" in body and "coordinator" in body
    row = r.context["rows"]
    assert ("5 Insomnia: middle", 2, 0, True) in row
    assert ("7 Work and activities", 1, 3, True) in row
    # The re-apply form carries the user's values and starts from the saved version.
    assert 'name="item_7" value="3"' in body and 'name="version" value="2"' in body
    saved.refresh_from_db()
    assert saved.item_5 == 2 and saved.item_7 == 1 and saved.version == 2


def test_a_record_created_by_someone_else_meanwhile_is_a_conflict_too(login, baseline_visit, users):
    c = login("coordinator")
    c.get(f"/visits/{baseline_visit.pk}/cgis/")  # opened empty
    services.cgis_record(visit=baseline_visit, score=5, by=users["rater"])
    r = c.post(f"/visits/{baseline_visit.pk}/cgis/", {"score": "3"})
    assert r.status_code == 409
    assert CGIS.objects.get(visit=baseline_visit).score == 5


def test_it_saves_a_cgis(login, baseline_visit):
    c = login("rater")
    assert c.post(f"/visits/{baseline_visit.pk}/cgis/", {"score": "8"}).status_code == 200
    assert c.post(f"/visits/{baseline_visit.pk}/cgis/", {"score": "5"}).status_code == 302
    assert CGIS.objects.get(visit=baseline_visit).score == 5


def test_labs_take_elisa_duplicates_and_report_their_mean(login, baseline_visit):
    c = login("coordinator")
    base = {"sample_time": f"{baseline_visit.actual_date}T08:30", "hs_crp_value": "3.4", "tnf_replicate_1": "2.0"}
    r = c.post(f"/visits/{baseline_visit.pk}/labs/", base)
    assert r.context["form"].errors["tnf_replicate_2"] == ["TNF is run by ELISA in duplicate: enter both replicates."]
    assert not LabResult.objects.exists()
    # 2.0 and 2.1: CV 3.4%, within the protocol's 10% (a wider pair warns: test_soft_checks).
    r = c.post(f"/visits/{baseline_visit.pk}/labs/", base | {"tnf_replicate_2": "2.1"})
    assert r.status_code == 302
    assert {lab.analyte: float(lab.value) for lab in LabResult.objects.all()} == {"hs_crp": 3.4, "tnf": 2.05}


def test_a_lab_value_out_of_range_is_shown_next_to_its_analyte(login, baseline_visit):
    r = login("coordinator").post(
        f"/visits/{baseline_visit.pk}/labs/",
        {"sample_time": f"{baseline_visit.actual_date}T08:30", "hs_crp_value": "600"},
    )
    assert "hs-CRP must be between 0 and 500 mg/L" in r.context["form"].errors["hs_crp_value"][0]


def test_no_blinded_role_sees_post_baseline_inflammatory_labs(login, enrolled_a_month_ago, users):
    randomized = enrolled_a_month_ago
    week2 = randomized.visits.get(definition__week=2)
    services.visit_complete(visit=week2, actual_date=week2.scheduled_date, by=users["coordinator"])
    services.lab_record(
        visit=week2, analyte="hs_crp", value=7.77, sample_time=f"{week2.scheduled_date}T08:30Z", by=users["unblinded"]
    )
    assert "7.77" in login("unblinded").get(f"/visits/{week2.pk}/labs/results/").content.decode()
    for name in ("coordinator", "rater", "investigator", "datamanager", "statistician", "monitor"):
        for url in (f"/visits/{week2.pk}/labs/", f"/visits/{week2.pk}/", f"/participants/{randomized.participant_id}/"):
            r = login(name).get(url)
            assert "7.77" not in r.content.decode() and "hs_crp_value" not in r.content.decode(), (name, url)


def test_vitals_blood_pressure_rule_and_save(login, baseline_visit):
    c = login("coordinator")
    r = c.post(
        f"/visits/{baseline_visit.pk}/vitals/", {"weight_kg": "82", "systolic_mmhg": "80", "diastolic_mmhg": "90"}
    )
    assert r.context["form"].errors["diastolic_mmhg"] == ["Diastolic pressure must be below systolic."]
    r = c.post(
        f"/visits/{baseline_visit.pk}/vitals/", {"weight_kg": "82.5", "systolic_mmhg": "120", "diastolic_mmhg": "80"}
    )
    assert r.status_code == 302 and float(VitalSigns.objects.get().weight_kg) == 82.5


def test_the_infusion_form_uses_todays_weight_and_shows_the_planned_dose(login, baseline_visit, users):
    services.vitals_record(visit=baseline_visit, data={"weight_kg": 91}, by=users["coordinator"])
    c = login("coordinator")
    assert 'name="weight_kg" value="91' in c.get(f"/visits/{baseline_visit.pk}/infusion/").content.decode()
    day = baseline_visit.actual_date
    r = c.post(
        f"/visits/{baseline_visit.pk}/infusion/",
        {"weight_kg": "91", "start_time": f"{day}T09:00", "stop_time": f"{day}T11:00"},
        follow=True,
    )
    assert "Planned dose (by weight, whatever the arm): 500 mg" in r.content.decode()
    assert Infusion.objects.get().planned_dose_mg == 500


def test_an_infusion_delayed_for_infection_needs_its_reason_and_moves_later_visits(login, enrolled_a_month_ago, users):
    randomized = enrolled_a_month_ago
    week2 = randomized.visits.get(definition__week=2)
    services.visit_complete(visit=week2, actual_date=week2.scheduled_date, by=users["coordinator"])
    week3_due = randomized.visits.get(definition__week=3).scheduled_date
    c = login("coordinator")
    r = c.post(f"/visits/{week2.pk}/infusion/", {"weight_kg": "80", "delayed_for_infection": "on"})
    errors = r.context["form"].errors
    assert "delay_reason" in errors and "delay_days" in errors
    r = c.post(
        f"/visits/{week2.pk}/infusion/",
        {
            "weight_kg": "80",
            "delayed_for_infection": "on",
            "delay_days": "5",
            "delay_reason": "Urinary tract infection; antibiotics started",
        },
    )
    assert r.status_code == 302
    assert randomized.visits.get(definition__week=3).scheduled_date == week3_due + timedelta(days=5)


def test_it_records_a_missed_visit_with_its_reason(login, enrolled_a_month_ago):
    week3 = enrolled_a_month_ago.visits.get(definition__week=3)  # its window has opened: it may be missed
    c = login("coordinator")
    blank = {"version": str(week3.version), "missed_reason_code": "other", "missed_reason": ""}
    r = c.post(f"/visits/{week3.pk}/missed/", blank)
    assert r.context["form"].errors["missed_reason"] == ["Give the reason the visit was missed."]
    r = c.post(f"/visits/{week3.pk}/missed/", blank | {"missed_reason": "Travelling for work"})
    week3.refresh_from_db()
    assert r.status_code == 302 and week3.status == Visit.Status.MISSED and week3.reason == "Travelling for work"


def test_an_out_of_window_visit_date_is_accepted_flagged_and_queried(login, enrolled_a_month_ago):
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    early = week1.window_start - timedelta(days=1)
    r = through_warnings(
        login("coordinator"),
        f"/visits/{week1.pk}/date/",
        {"version": str(week1.version), "actual_date": early.isoformat()},
        follow=True,
    )
    week1.refresh_from_db()
    assert week1.status == Visit.Status.DONE and week1.out_of_window
    assert "outside its window" in r.content.decode()
    query = DataQuery.objects.get(visit=week1)
    assert query.check_code == "out_of_window" and query.status == DataQuery.Status.OPEN


def test_changing_a_visit_date_needs_a_reason_and_closes_the_window_query(login, enrolled_a_month_ago):
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    c = login("coordinator")
    early = week1.window_start - timedelta(days=1)
    through_warnings(c, f"/visits/{week1.pk}/date/", {"version": str(week1.version), "actual_date": early.isoformat()})
    week1.refresh_from_db()
    r = c.post(
        f"/visits/{week1.pk}/date/", {"version": str(week1.version), "actual_date": week1.scheduled_date.isoformat()}
    )
    assert "reason" in r.context["form"].errors
    c.post(
        f"/visits/{week1.pk}/date/",
        {
            "version": str(week1.version),
            "actual_date": week1.scheduled_date.isoformat(),
            "reason": "Date transcribed wrongly",
        },
    )
    week1.refresh_from_db()
    assert not week1.out_of_window
    assert DataQuery.objects.get(visit=week1).status == DataQuery.Status.CLOSED
