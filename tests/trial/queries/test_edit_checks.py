"""Automatic edit checks raise queries, and close them when the data are corrected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trial.core.services import form_entry_save
from trial.queries.models import DataQuery, QueryMessage
from trial.queries.services import edit_checks_run, query_close
from trial.visits import services
from trial.visits.models import CGIS

pytestmark = pytest.mark.django_db


def _done(participant, week, by):
    visit = participant.visits.get(definition__week=week)
    if visit.status == visit.Status.DONE:  # the fixture's baseline is done already
        return visit
    return services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=by)


def _hamd(visit, total_of_ones_plus, by, **kw):
    # 17 items of 1 = 17; raise item 1/2/3/7 (0-4 items) to add points.
    items = dict.fromkeys(range(1, 18), 1)
    extra = total_of_ones_plus
    for item in (1, 2, 3, 7, 8, 9, 10, 11, 15):
        add = min(3, extra)
        items[item] += add
        extra -= add
    return services.hamd_record(visit=visit, items=items, by=by, **kw)


def open_checks(participant):
    return {q.check_code for q in DataQuery.objects.filter(participant=participant, status=DataQuery.Status.OPEN)}


def test_a_hamd_jump_over_15_points_raises_a_query_and_a_correction_closes_it(enrolled_a_month_ago, users):
    p, rater = enrolled_a_month_ago, users["rater"]
    w0, w1 = _done(p, 0, rater), _done(p, 1, rater)
    _hamd(w0, 10, rater)  # total 27
    _hamd(w1, 0, rater)  # total 17: 10 points, fine
    edit_checks_run(participant=p, by=rater)
    assert open_checks(p) == set()
    w0_hamd = w0.hamd
    _hamd(w0, 20, rater, reason="Re-scored", version=w0_hamd.version)  # total 37: 20-point drop to week 1
    edit_checks_run(participant=p, by=rater)
    query = DataQuery.objects.get(check_code="hamd_jump")
    assert query.visit == w1 and query.field == "total" and "-20 points" in query.text
    w0_hamd.refresh_from_db()
    _hamd(w0, 15, rater, reason="Back to source", version=w0_hamd.version)  # total 32: 15 points, allowed
    edit_checks_run(participant=p, by=rater)
    query.refresh_from_db()
    assert query.status == DataQuery.Status.CLOSED and query.closed_by is None
    assert query.messages.last().action == QueryMessage.Action.AUTO_CLOSED


def test_hs_crp_above_100_raises_a_query(baseline_visit, coordinator):
    lab = services.lab_record(
        visit=baseline_visit, analyte="hs_crp", value=100, sample_time=timezone.now(), by=coordinator
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    assert open_checks(baseline_visit.participant) == set()
    services.lab_record(
        visit=baseline_visit,
        analyte="hs_crp",
        value=140.5,
        sample_time=timezone.now(),
        by=coordinator,
        reason="Re-run",
        version=lab.version,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    query = DataQuery.objects.get(check_code="crp_high")
    assert (query.form, query.field, query.visit) == ("labs", "hs_crp", baseline_visit)
    assert "140.5 mg/L" in query.text


def test_an_out_of_window_visit_raises_a_query(enrolled_a_month_ago, coordinator):
    w1 = enrolled_a_month_ago.visits.get(definition__week=1)
    services.visit_complete(visit=w1, actual_date=w1.window_end + timedelta(days=1), by=coordinator)
    edit_checks_run(participant=enrolled_a_month_ago, by=coordinator)
    assert open_checks(enrolled_a_month_ago) == {"out_of_window"}


def test_a_weight_change_over_10_percent_between_infusions_raises_a_query(enrolled_a_month_ago, coordinator):
    p = enrolled_a_month_ago
    w0, w2 = _done(p, 0, coordinator), _done(p, 2, coordinator)
    services.infusion_record(visit=w0, data={"weight_kg": 80}, by=coordinator)
    inf = services.infusion_record(visit=w2, data={"weight_kg": 88}, by=coordinator)  # +10%: allowed
    edit_checks_run(participant=p, by=coordinator)
    assert open_checks(p) == set()
    services.infusion_record(
        visit=w2, data={"weight_kg": 88.5}, by=coordinator, reason="Re-weighed", version=inf.version
    )
    edit_checks_run(participant=p, by=coordinator)
    query = DataQuery.objects.get(check_code="weight_change")
    assert query.visit == w2 and "+10.6%" in query.text


def test_the_checks_do_not_duplicate_an_open_query(baseline_visit, coordinator):
    services.lab_record(visit=baseline_visit, analyte="hs_crp", value=150, sample_time=timezone.now(), by=coordinator)
    for _ in range(3):
        edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    assert DataQuery.objects.count() == 1


def test_a_query_closed_by_a_data_manager_is_not_raised_again(baseline_visit, users):
    services.lab_record(
        visit=baseline_visit, analyte="hs_crp", value=150, sample_time=timezone.now(), by=users["coordinator"]
    )
    edit_checks_run(participant=baseline_visit.participant, by=users["coordinator"])
    query = DataQuery.objects.get()
    query_close(query=query, by=users["datamanager"], text="Confirmed with the lab: acute bronchitis")
    edit_checks_run(participant=baseline_visit.participant, by=users["coordinator"])
    query.refresh_from_db()
    assert query.status == DataQuery.Status.CLOSED and DataQuery.objects.count() == 1


def test_an_auto_closed_query_reopens_when_the_value_goes_bad_again(baseline_visit, coordinator):
    lab = services.lab_record(
        visit=baseline_visit, analyte="hs_crp", value=150, sample_time=timezone.now(), by=coordinator
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    lab = services.lab_record(
        visit=baseline_visit,
        analyte="hs_crp",
        value=15,
        sample_time=timezone.now(),
        by=coordinator,
        reason="Decimal point",
        version=lab.version,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    services.lab_record(
        visit=baseline_visit,
        analyte="hs_crp",
        value=151,
        sample_time=timezone.now(),
        by=coordinator,
        reason="Lab re-issued",
        version=lab.version,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    query = DataQuery.objects.get()
    assert query.status == DataQuery.Status.OPEN
    assert [m.action for m in query.messages.all()] == ["opened", "auto_closed", "auto_reopened"]


def test_form_entry_save_rolls_back_the_write_when_it_fails(baseline_visit, coordinator):
    def write():
        services.cgis_record(visit=baseline_visit, score=4, by=coordinator)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        form_entry_save(participant=baseline_visit.participant, by=coordinator, write=write)
    assert not CGIS.objects.exists()
