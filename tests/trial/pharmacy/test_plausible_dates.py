"""Drug lot and wastage dates within the plausible range (protocol file [dates]); vial counts in range."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.pharmacy.models import Wastage
from trial.pharmacy.services import drug_lot_receive, wastage_record

pytestmark = pytest.mark.django_db
TODAY = date.today()


@pytest.mark.parametrize("day", [date(9999, 12, 31), TODAY + timedelta(days=1), date(1900, 1, 1)])
def test_it_refuses_wastage_on_an_implausible_day(pharmacy_lot: Any, users: Any, day: date) -> None:
    with pytest.raises(ValidationError) as exc:
        wastage_record(lot=pharmacy_lot, by=users["pharmacist"], vials=1, wasted_on=day, reason="broken")
    assert "wasted_on" in exc.value.message_dict
    assert not Wastage.objects.exists()


def test_it_refuses_wastage_before_the_lot_was_received(pharmacy_lot: Any, users: Any) -> None:
    with pytest.raises(ValidationError, match="was received on"):
        wastage_record(
            lot=pharmacy_lot, by=users["pharmacist"], vials=1, wasted_on=TODAY - timedelta(days=1), reason="broken"
        )


def test_the_wastage_form_says_so_and_keeps_the_input(login: Any, pharmacy_lot: Any) -> None:
    response = login("pharmacist").post(
        f"/pharmacy/lots/{pharmacy_lot.pk}/wastage/", {"vials": "2", "wasted_on": "9999-12-31", "reason": "dropped"}
    )
    assert response.status_code == 200
    assert "future" in response.context["form"].errors["wasted_on"][0]
    assert "dropped" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("vials_received", 2**31), ("received_on", date(1900, 1, 1)), ("expiry_date", date(9999, 12, 31))],
)
def test_it_refuses_an_implausible_lot(users: Any, protocol_loaded: Any, field: str, value: Any) -> None:
    data = {
        "lot_number": "LOT-Z",
        "expiry_date": TODAY + timedelta(days=300),
        "vials_received": 10,
        "received_on": TODAY,
    }
    with pytest.raises(ValidationError) as exc:
        drug_lot_receive(by=users["pharmacist"], **(data | {field: value}))
    assert field in exc.value.message_dict


def test_the_lot_form_answers_dates_at_the_end_of_the_calendar_without_a_crash(
    login: Any, protocol_loaded: Any
) -> None:
    far = "9999-12-31"
    response = login("pharmacist").post(
        "/pharmacy/lots/receive/",
        {"lot_number": "LOT-FAR", "expiry_date": far, "vials_received": "10", "received_on": far},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["received_on"]
