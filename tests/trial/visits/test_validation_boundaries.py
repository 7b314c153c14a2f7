"""Every range of the protocol, at its boundary: the value on the edge is accepted, one past it refused."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from trial.visits import services
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db

ZERO_ITEMS = dict.fromkeys(range(1, 18), 0)
FOUR_POINT = [1, 2, 3, 7, 8, 9, 10, 11, 15]
TWO_POINT = [4, 5, 6, 12, 13, 14, 16, 17]


@pytest.fixture
def baseline(randomized, coordinator):
    visit = randomized.visits.get(definition__week=0)
    return services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)


@pytest.mark.parametrize("item", FOUR_POINT)
def test_hamd_four_point_items_accept_4_and_refuse_5(baseline, users, item):
    rec = services.hamd_record(visit=baseline, items=ZERO_ITEMS | {item: 4}, by=users["rater"])
    assert getattr(rec, f"item_{item}") == 4
    with pytest.raises(ValidationError) as exc:
        services.hamd_record(
            visit=baseline, items=ZERO_ITEMS | {item: 5}, by=users["rater"], reason="fix", version=rec.version
        )
    assert f"item_{item}" in exc.value.message_dict
    assert "0 to 4" in exc.value.message_dict[f"item_{item}"][0]


@pytest.mark.parametrize("item", TWO_POINT)
def test_hamd_two_point_items_accept_2_and_refuse_3(baseline, users, item):
    rec = services.hamd_record(visit=baseline, items=ZERO_ITEMS | {item: 2}, by=users["rater"])
    assert getattr(rec, f"item_{item}") == 2
    with pytest.raises(ValidationError) as exc:
        services.hamd_record(
            visit=baseline, items=ZERO_ITEMS | {item: 3}, by=users["rater"], reason="fix", version=rec.version
        )
    assert f"item_{item}" in exc.value.message_dict


def test_hamd_total_is_derived_and_tops_out_at_52(baseline, users):
    items = {i: (4 if i in FOUR_POINT else 2) for i in range(1, 18)}
    assert services.hamd_record(visit=baseline, items=items, by=users["rater"]).total == 52


def test_hamd_refuses_a_missing_item(baseline, users):
    items = dict(ZERO_ITEMS)
    del items[9]
    with pytest.raises(ValidationError) as exc:
        services.hamd_record(visit=baseline, items=items, by=users["rater"])
    assert "item_9" in exc.value.message_dict


@pytest.mark.parametrize(("score", "ok"), [(0, False), (1, True), (7, True), (8, False)])
def test_cgis_scores_1_to_7(baseline, users, score, ok):
    if ok:
        assert services.cgis_record(visit=baseline, score=score, by=users["rater"]).score == score
    else:
        with pytest.raises(ValidationError, match="1 \\(normal\\) to 7"):
            services.cgis_record(visit=baseline, score=score, by=users["rater"])


@pytest.mark.parametrize(("value", "ok"), [(0, True), (500, True), (500.001, False), (-0.1, False)])
def test_hs_crp_range(baseline, coordinator, value, ok):
    def call():
        return services.lab_record(
            visit=baseline, analyte="hs_crp", value=value, sample_time=timezone.now(), by=coordinator
        )

    if ok:
        assert float(call().value) == value
    else:
        with pytest.raises(ValidationError, match="hs-CRP must be between"):
            call()


def test_elisa_analytes_need_both_duplicates_and_report_their_mean(baseline, coordinator):
    with pytest.raises(ValidationError, match="in duplicate"):
        services.lab_record(visit=baseline, analyte="tnf", replicate_1=2.0, sample_time=timezone.now(), by=coordinator)
    lab = services.lab_record(
        visit=baseline, analyte="tnf", replicate_1=2.0, replicate_2=2.5, sample_time=timezone.now(), by=coordinator
    )
    assert float(lab.value) == 2.25
    assert lab.cv_percent == pytest.approx(15.71, abs=0.01)


def test_unknown_analyte_is_refused(baseline, coordinator):
    with pytest.raises(ValidationError, match="Analyte must be one of"):
        services.lab_record(visit=baseline, analyte="il6", value=1, sample_time=timezone.now(), by=coordinator)


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("weight_kg", 30, 250),
        ("systolic_mmhg", 60, 250),
        ("diastolic_mmhg", 30, 150),
        ("heart_rate_bpm", 30, 200),
        ("temperature_c", 34, 42),
    ],
)
def test_vital_sign_ranges(baseline, coordinator, field, low, high):
    base = {"weight_kg": 80, "systolic_mmhg": 200, "diastolic_mmhg": 40}
    rec = services.vitals_record(visit=baseline, data=base | {field: low}, by=coordinator)
    rec = services.vitals_record(
        visit=baseline, data=base | {field: high}, by=coordinator, reason="edge", version=rec.version
    )
    for bad in (low - 1, high + 1):
        with pytest.raises(ValidationError) as exc:
            services.vitals_record(
                visit=baseline, data=base | {field: bad}, by=coordinator, reason="bad", version=rec.version
            )
        assert field in exc.value.message_dict


def test_diastolic_must_be_below_systolic(baseline, coordinator):
    with pytest.raises(ValidationError, match="below systolic"):
        services.vitals_record(
            visit=baseline, data={"weight_kg": 80, "systolic_mmhg": 90, "diastolic_mmhg": 90}, by=coordinator
        )


@pytest.mark.parametrize(("weight", "dose"), [(82, 400), (79.9, 400), (90, 500), (50, 300), (30, 200)])
def test_infusion_planned_dose_is_5_mg_per_kg_in_whole_100_mg_vials(baseline, coordinator, weight, dose):
    inf = services.infusion_record(visit=baseline, data={"weight_kg": weight}, by=coordinator)
    assert inf.planned_dose_mg == dose


def test_infusion_delay_needs_a_reason_and_reschedules_later_visits(randomized, coordinator):
    w2 = randomized.visits.get(definition__week=2)
    w4_before = randomized.visits.get(definition__week=4).scheduled_date
    with pytest.raises(ValidationError) as exc:
        services.infusion_record(
            visit=w2, data={"weight_kg": 80, "delayed_for_infection": True, "delay_days": 5}, by=coordinator
        )
    assert "delay_reason" in exc.value.message_dict
    services.infusion_record(
        visit=w2,
        data={
            "weight_kg": 80,
            "delayed_for_infection": True,
            "delay_days": 5,
            "delay_reason": "Fever, antibiotics started",
        },
        by=coordinator,
    )
    assert randomized.visits.get(definition__week=4).scheduled_date == w4_before + timedelta(days=5)


def test_infusion_only_at_infusion_visits(randomized, coordinator):
    with pytest.raises(ValidationError, match="No infusion is given"):
        services.infusion_record(
            visit=randomized.visits.get(definition__week=1), data={"weight_kg": 80}, by=coordinator
        )


def test_a_missed_visit_needs_a_reason_and_takes_no_data(randomized, coordinator, users):
    w3 = randomized.visits.get(definition__week=3)
    opens = w3.window_start  # a visit is missed once its window has opened ([[soft_checks]])
    with pytest.raises(ValidationError, match="Give the reason the visit was missed"):
        services.visit_miss(visit=w3, reason="", by=coordinator, today=opens)
    services.visit_miss(visit=w3, reason="Week 3 HAM-D dropped for burden", by=coordinator, today=opens)
    assert Visit.objects.get(pk=w3.pk).status == "missed"
    with pytest.raises(ValidationError, match="recorded as missed"):
        services.cgis_record(visit=w3, score=4, by=users["rater"])


def test_visit_dates_follow_the_actual_baseline(randomized, coordinator):
    w0 = randomized.visits.get(definition__week=0)
    services.visit_complete(visit=w0, actual_date=w0.scheduled_date - timedelta(days=2), by=coordinator)
    w12 = randomized.visits.get(definition__week=12)
    assert w12.scheduled_date == w0.scheduled_date - timedelta(days=2) + timedelta(weeks=12)


def test_out_of_window_visit_is_allowed_and_flagged(make_participant, active_list, coordinator):
    from trial.workspace.services import participant_enrol as participant_randomize

    p = make_participant(screened_days_ago=40)
    participant_randomize(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=30))
    w0 = p.visits.get(definition__week=0)
    services.visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
    w1 = p.visits.get(definition__week=1)
    on_time = services.visit_complete(visit=w1, actual_date=w1.window_end, by=coordinator)
    assert not on_time.out_of_window
    late = services.visit_complete(
        visit=w1, actual_date=w1.window_end + timedelta(days=1), by=coordinator, reason="Corrected date"
    )
    assert late.out_of_window


def test_an_edit_without_the_version_it_started_from_is_refused(baseline, users):
    rec = services.hamd_record(visit=baseline, items=ZERO_ITEMS, by=users["rater"])
    with pytest.raises(ValidationError, match="version you started from is missing"):
        services.hamd_record(visit=baseline, items=ZERO_ITEMS | {1: 3}, by=users["rater"], reason="changed")
    rec.refresh_from_db()
    assert rec.item_1 == 0 and rec.version == 1


def test_an_edit_from_an_old_version_is_a_conflict(baseline, users):
    from trial.core.services import ConflictError

    rec = services.hamd_record(visit=baseline, items=ZERO_ITEMS, by=users["rater"])
    services.hamd_record(
        visit=baseline, items=ZERO_ITEMS | {1: 2}, by=users["coordinator"], reason="first", version=rec.version
    )
    with pytest.raises(ConflictError):
        services.hamd_record(
            visit=baseline, items=ZERO_ITEMS | {1: 3}, by=users["rater"], reason="second", version=rec.version
        )
    rec.refresh_from_db()
    assert rec.item_1 == 2
