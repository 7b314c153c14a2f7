"""Cross-field rules of the visit forms, without HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from trial.protocol.selectors import protocol
from trial.visits.rules import (
    BloodPressureOrder,
    DuplicatesComplete,
    InfusionDelay,
    InfusionTimes,
    SampleTimeWhenResults,
)

T = datetime(2024, 3, 1, 9, 0)


def test_elisa_duplicates_are_both_or_neither_on_the_form():
    rule = DuplicatesComplete(protocol().analyte("tnf"), prefix="tnf_", optional=True)
    assert rule({"tnf_replicate_1": Decimal(2), "tnf_replicate_2": None}) == {
        "tnf_replicate_2": "TNF is run by ELISA in duplicate: enter both replicates."
    }
    assert rule({"tnf_replicate_1": None, "tnf_replicate_2": Decimal(2)}) == {
        "tnf_replicate_1": "TNF is run by ELISA in duplicate: enter both replicates."
    }
    assert rule({"tnf_replicate_1": Decimal(2), "tnf_replicate_2": Decimal(3)}) == {}
    assert rule({}) == {}


def test_a_saved_elisa_result_needs_both_replicates():
    rule = DuplicatesComplete(protocol().analyte("tnf"))
    assert rule({}) == {"replicate_1": "TNF is run by ELISA in duplicate: enter both replicates."}


def test_results_need_a_sample_time_and_a_lab_form_needs_a_result():
    rule = SampleTimeWhenResults(["hs_crp_value"])
    assert rule({"hs_crp_value": Decimal(1)}) == {"sample_time": "Give the time the sample was drawn."}
    assert rule({"hs_crp_value": Decimal(1), "sample_time": T}) == {}
    assert rule({"sample_time": T}) == {"__all__": "Enter at least one result."}


@pytest.mark.parametrize(
    ("sys_", "dia", "field"),
    [
        (120, 80, None),
        (80, 80, "diastolic_mmhg"),
        (120, None, "diastolic_mmhg"),
        (None, 80, "systolic_mmhg"),
        (None, None, None),
    ],
)
def test_blood_pressure(sys_, dia, field):
    errors = BloodPressureOrder()({"systolic_mmhg": sys_, "diastolic_mmhg": dia})
    assert list(errors) == ([field] if field else [])


def test_a_delay_for_infection_needs_reason_and_days():
    rule = InfusionDelay()
    assert set(rule({"delayed_for_infection": True})) == {"delay_reason", "delay_days"}
    assert rule({"delayed_for_infection": True, "delay_reason": "UTI", "delay_days": 4}) == {}
    assert set(rule({"delayed_for_infection": False, "delay_days": 4})) == {"delay_days"}


def test_infusion_times():
    rule = InfusionTimes()
    assert rule({"start_time": T, "stop_time": T + timedelta(minutes=120)}) == {}
    assert rule({"start_time": T, "stop_time": T}) == {"stop_time": "The infusion must stop after it starts."}
    assert rule({"stop_time": T}) == {"start_time": "Give the start time as well."}


@pytest.mark.django_db
def test_the_hamd_form_checks_each_item_against_its_own_range(baseline_visit):
    from trial.visits.forms import HamdForm

    data = {f"item_{i}": "0" for i in range(1, 18)} | {"item_1": "4", "item_17": "3"}
    form = HamdForm(data=data, visit=baseline_visit)
    assert not form.is_valid()
    assert list(form.errors) == ["item_17"]
    assert form.typed_total == 7
