"""The protocol file's soft checks on visit data ([[soft_checks]]): each fires just past its boundary
and not at it; a warning is shown on the form, nothing is saved until the user confirms it, and the
firing is logged; a refusal saves nothing and keeps what was typed; a check the file makes a query
raises one on the saved value."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests.conftest import PROTOCOL_DIR
from trial.protocol.selectors import protocol
from trial.queries.models import DataQuery
from trial.queries.services import edit_checks_run
from trial.visits import services, soft_checks
from trial.visits.models import Infusion, LabResult, LabSample, SoftCheckFiring, Visit

pytestmark = pytest.mark.django_db

SECOND_TRIAL = PROTOCOL_DIR / "infliximab_trd_dose.toml"


def at(day, hh, mm):
    return datetime.combine(day, time(hh, mm), tzinfo=UTC)


def check(code):
    found = protocol().soft_check(code)
    assert found is not None, f"the protocol file configures {code}"
    return found


# --- Each check at its boundary (the numbers are the protocol file's) ----------------------------------


@pytest.mark.parametrize(("hh", "mm", "fires"), [(7, 59, True), (8, 0, False), (10, 0, False), (10, 1, True)])
def test_blood_draw_time_fires_outside_8_to_10_and_not_at_either_end(protocol_loaded, hh, mm, fires):
    message = soft_checks.blood_draw_time(check("blood_draw_time"), at(datetime(2026, 3, 2).date(), hh, mm))
    assert (message is not None) == fires
    if fires:
        assert f"Blood drawn at {hh:02d}:{mm:02d}" in message and "between 8 and 10 AM" in message


@pytest.mark.parametrize(("r2", "fires"), [("115", False), ("116", True)])
def test_elisa_cv_fires_above_10_percent_only(protocol_loaded, r2, fires):
    # 100 and 115: CV 9.9%; 100 and 116: CV 10.5% (SD of the pair over its mean).
    tnf = protocol().analyte("tnf")
    message = soft_checks.elisa_cv(check("elisa_cv"), tnf, Decimal("100"), Decimal(r2))
    assert (message is not None) == fires
    if fires:
        assert "CV of 10.5%" in message and "CV <= 10%" in message


def test_elisa_cv_is_not_checked_on_an_analyte_run_once(protocol_loaded):
    assert soft_checks.elisa_cv(check("elisa_cv"), protocol().analyte("hs_crp"), 1, 100) is None


@pytest.mark.parametrize(("minutes", "fires"), [(119, True), (120, False), (150, False)])
def test_an_infusion_shorter_than_120_minutes_fires(protocol_loaded, minutes, fires):
    start = at(datetime(2026, 3, 2).date(), 9, 0)
    message = soft_checks.infusion_duration(check("infusion_duration"), start, start + timedelta(minutes=minutes))
    assert (message is not None) == fires
    if fires:
        assert "ran 119 minutes" in message and "120 minutes" in message


# --- Warnings on the form -------------------------------------------------------------------------------


def test_a_draw_outside_the_morning_window_warns_keeps_the_input_and_saves_once_confirmed(login, baseline_visit):
    c = login("coordinator")
    url = f"/visits/{baseline_visit.pk}/labs/"
    data = {"sample_time": f"{baseline_visit.actual_date}T10:01", "hs_crp_value": "3.4"}
    r = c.post(url, data)
    body = r.content.decode()
    assert r.status_code == 200 and not LabResult.objects.exists()
    assert "Blood drawn at 10:01" in body and 'value="3.4"' in body and "Save anyway" in body
    assert SoftCheckFiring.objects.get().check_code == "blood_draw_time"
    r = c.post(url, data | {"warnings_seen": r.context["warnings_digest"]})
    assert r.status_code == 302 and LabResult.objects.get().value == Decimal("3.4")


def test_a_draw_at_10_00_saves_without_a_warning(login, baseline_visit):
    r = login("coordinator").post(
        f"/visits/{baseline_visit.pk}/labs/",
        {"sample_time": f"{baseline_visit.actual_date}T10:00", "hs_crp_value": "3.4"},
    )
    assert r.status_code == 302 and not SoftCheckFiring.objects.exists()


def test_the_sample_form_warns_on_the_draw_time_too(login, coordinator, enrolled_a_month_ago):
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    services.visit_complete(visit=week1, actual_date=week1.scheduled_date, by=coordinator)
    r = login("coordinator").post(
        f"/visits/{week1.pk}/labs/sample/", {"drawn_at": f"{week1.scheduled_date}T07:30", "tube_id": "T-1"}
    )
    assert r.status_code == 200 and "Blood drawn at 07:30" in r.content.decode()
    assert not LabSample.objects.exists()


def test_replicates_more_than_10_percent_apart_warn(login, baseline_visit):
    c = login("coordinator")
    url = f"/visits/{baseline_visit.pk}/labs/"
    base = {"sample_time": f"{baseline_visit.actual_date}T08:30", "tnf_replicate_1": "100"}
    r = c.post(url, base | {"tnf_replicate_2": "116"})
    assert r.status_code == 200 and "TNF duplicates 100 and 116 have a CV of 10.5%" in r.content.decode()
    assert not LabResult.objects.exists()
    r = c.post(url, base | {"tnf_replicate_2": "115"})
    assert r.status_code == 302 and LabResult.objects.get().analyte == "tnf"


def test_a_short_infusion_warns_and_a_changed_value_is_checked_again(login, baseline_visit):
    c = login("coordinator")
    url = f"/visits/{baseline_visit.pk}/infusion/"
    day = baseline_visit.actual_date
    short = {"weight_kg": "80", "start_time": f"{day}T09:00", "stop_time": f"{day}T10:59"}
    r = c.post(url, short)
    assert r.status_code == 200 and "The infusion ran 119 minutes" in r.content.decode()
    digest = r.context["warnings_digest"]
    # Confirming one warning does not confirm another: a different short time is shown again.
    r = c.post(url, short | {"stop_time": f"{day}T10:30", "warnings_seen": digest})
    assert r.status_code == 200 and "ran 90 minutes" in r.content.decode() and not Infusion.objects.exists()
    r = c.post(url, short | {"stop_time": f"{day}T11:00"})
    assert r.status_code == 302 and Infusion.objects.exists()
    assert SoftCheckFiring.objects.filter(check_code="infusion_duration").count() == 2


def _complete_baseline_forms(visit, users):
    coordinator = users["coordinator"]
    services.hamd_record(visit=visit, items=dict.fromkeys(range(1, 18), 1), by=users["rater"])
    services.cgis_record(visit=visit, score=4, by=users["rater"])
    services.lab_record(
        visit=visit, analyte="hs_crp", value=3.4, sample_time=at(visit.actual_date, 9, 0), by=coordinator
    )
    services.vitals_record(visit=visit, data={"weight_kg": 80}, by=coordinator)
    services.infusion_record(visit=visit, data={"weight_kg": 80}, by=coordinator)


def test_moving_on_while_an_earlier_visit_has_forms_to_do_warns(login, enrolled_a_month_ago):
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    r = login("coordinator").post(
        f"/visits/{week1.pk}/date/", {"version": str(week1.version), "actual_date": week1.scheduled_date.isoformat()}
    )
    assert r.status_code == 200
    assert "Baseline (week 0) still has forms to do (HAM-D-17, CGI-S, Labs, Vital signs, Infusion)" in (
        r.content.decode()
    )
    assert Visit.objects.get(pk=week1.pk).status == Visit.Status.SCHEDULED


def test_moving_on_after_every_earlier_form_is_in_does_not_warn(login, users, enrolled_a_month_ago):
    baseline = enrolled_a_month_ago.visits.get(definition__week=0)
    _complete_baseline_forms(baseline, users)
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    r = login("coordinator").post(
        f"/visits/{week1.pk}/date/", {"version": str(week1.version), "actual_date": week1.scheduled_date.isoformat()}
    )
    assert r.status_code == 302 and Visit.objects.get(pk=week1.pk).status == Visit.Status.DONE
    assert not SoftCheckFiring.objects.exists()


# --- The refusal: a visit missed before its window opens ------------------------------------------------


def test_a_visit_cannot_be_missed_before_its_window_opens_and_the_input_is_kept(login, randomized):
    week3 = randomized.visits.get(definition__week=3)
    c = login("coordinator")
    r = c.post(
        f"/visits/{week3.pk}/missed/",
        {"version": str(week3.version), "missed_reason_code": "illness", "missed_reason": "Flu, in bed all week"},
    )
    body = html.unescape(r.content.decode())
    assert r.status_code == 200
    assert f"Week 3's window opens on {week3.window_start:%d %b %Y}" in body
    assert "Flu, in bed all week" in body and 'value="illness" selected' in body
    assert Visit.objects.get(pk=week3.pk).status == Visit.Status.SCHEDULED
    refusal = SoftCheckFiring.objects.get()
    assert (refusal.check_code, refusal.kind, refusal.visit_id) == ("missed_before_window", "refusal", week3.pk)


def test_a_visit_may_be_missed_from_the_day_its_window_opens(randomized, coordinator):
    week3 = randomized.visits.get(definition__week=3)
    with pytest.raises(ValidationError, match="window opens on"):
        services.visit_miss(
            visit=week3, reason="", reason_code="illness", by=coordinator, today=week3.window_start - timedelta(days=1)
        )
    services.visit_miss(visit=week3, reason="", reason_code="illness", by=coordinator, today=week3.window_start)
    assert Visit.objects.get(pk=week3.pk).status == Visit.Status.MISSED


# --- The second trial makes some of these queries (its file says why) -----------------------------------


@pytest.mark.parametrize("protocol_file", [SECOND_TRIAL], indirect=True)
def test_the_second_trial_queries_a_draw_time_an_elisa_cv_and_a_short_infusion(baseline_visit, coordinator):
    day = baseline_visit.actual_date
    services.lab_record(visit=baseline_visit, analyte="hs_crp", value=4, sample_time=at(day, 10, 1), by=coordinator)
    services.lab_record(
        visit=baseline_visit,
        analyte="tnf",
        replicate_1=100,
        replicate_2=116,
        sample_time=at(day, 9, 0),
        by=coordinator,
    )
    services.infusion_record(
        visit=baseline_visit,
        data={"weight_kg": 80, "start_time": at(day, 9, 0), "stop_time": at(day, 10, 59)},
        by=coordinator,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    raised = {q.check_code: q for q in DataQuery.objects.filter(source=DataQuery.Source.EDIT_CHECK)}
    assert {"blood_draw_time", "elisa_cv", "infusion_duration"} <= set(raised)
    assert raised["elisa_cv"].field == "tnf" and "CV of 10.5%" in raised["elisa_cv"].text
    assert raised["infusion_duration"].text.startswith("The infusion ran 119 minutes, not 120")


@pytest.mark.parametrize("protocol_file", [SECOND_TRIAL], indirect=True)
def test_the_second_trials_queries_stay_closed_at_the_boundary(baseline_visit, coordinator):
    day = baseline_visit.actual_date
    services.lab_record(visit=baseline_visit, analyte="hs_crp", value=4, sample_time=at(day, 10, 0), by=coordinator)
    services.lab_record(
        visit=baseline_visit,
        analyte="tnf",
        replicate_1=100,
        replicate_2=115,
        sample_time=at(day, 8, 0),
        by=coordinator,
    )
    services.infusion_record(
        visit=baseline_visit,
        data={"weight_kg": 80, "start_time": at(day, 9, 0), "stop_time": at(day, 11, 0)},
        by=coordinator,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    codes = set(DataQuery.objects.values_list("check_code", flat=True))
    assert not codes & {"blood_draw_time", "elisa_cv", "infusion_duration"}
