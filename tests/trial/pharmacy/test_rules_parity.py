"""Each pharmacy rule gives the same message on the same field from the model and from the form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.pharmacy.forms import DispenseForm, LotReceiveForm, PrepareForm, WastageForm
from trial.pharmacy.models import DrugLot, Preparation, Wastage

TODAY = date.today()
LAST_WEEK = (TODAY - timedelta(days=7)).isoformat()

LOT = {"lot_number": "IFX-001", "expiry_date": (TODAY + timedelta(days=365)).isoformat(), "vials_received": "20"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"expiry_date": LAST_WEEK}, "expiry_date", "The lot expired before it was received."),
        ({"vials_received": "0"}, "vials_received", "A lot has at least one vial."),
    ],
    ids=["valid", "expired on receipt", "no vials"],
)
def test_drug_lot_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = LOT | {"received_on": LAST_WEEK} | change
    assert_same_rule(form=LotReceiveForm(data=data), model=DrugLot, data=data, field=field, message=message)


BAG = {"weight_kg": "80", "saline_lot": "NS-250-17", "second_checker": "R. Second", "checked": True}


@pytest.mark.django_db  # the form lists the usable lots
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"weight_kg": "30"}, None, None),
        ({"weight_kg": "29.5"}, "weight_kg", "Weight must be between 30 and 250 kg; 29.5 is out of range."),
        ({"weight_kg": "251"}, "weight_kg", "Weight must be between 30 and 250 kg; 251 is out of range."),
        ({"saline_lot": " "}, "saline_lot", "Record the lot of the 250 mL saline bag."),
        ({"second_checker": ""}, "second_checker", "Name the second person who checked the bag."),
    ],
    ids=["valid", "lightest", "too light", "too heavy", "no saline lot", "no second check"],
)
def test_preparation_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = BAG | change
    form = PrepareForm(data=data, needs_lot=False)
    assert_same_rule(form=form, model=Preparation, data=data, field=field, message=message)


WASTE = {"vials": "2", "wasted_on": LAST_WEEK, "reason": "Vials broken in transit"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"vials": "0"}, "vials", "At least one vial."),
        ({"reason": ""}, "reason", "Give the reason the vials were wasted."),
    ],
    ids=["valid", "no vials", "no reason"],
)
def test_wastage_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = WASTE | change
    assert_same_rule(form=WastageForm(data=data), model=Wastage, data=data, field=field, message=message)


PREPARED = {"saline_lot": "NS-250-17", "second_checker": "R. Second", "weight_kg": 80}


@pytest.mark.parametrize(
    ("handed_to", "message"), [("Infusion nurse", None), ("  ", "Name the nurse who received the bag.")]
)
def test_dispensing_rules(handed_to: str, message: str | None) -> None:
    data = {"dispensed_to": handed_to}
    assert_same_rule(
        form=DispenseForm(data=data),
        model=Preparation,
        data=data,
        field="dispensed_to" if message else None,
        message=message,
        extra=PREPARED | {"status": "dispensed"},
    )
