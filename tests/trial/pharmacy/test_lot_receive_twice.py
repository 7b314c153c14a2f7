"""One lot number received twice at once: one lot record, and the second is refused with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.trial.concurrency import at_once
from trial.pharmacy.models import DrugLot
from trial.pharmacy.services import drug_lot_receive


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_lot_when_the_same_lot_is_received_twice_at_once(users: Any, protocol_loaded: Any) -> None:
    today = date.today()

    def receive() -> DrugLot:
        return drug_lot_receive(
            by=users["pharmacist"],
            lot_number="LOT-TWICE",
            expiry_date=today + timedelta(days=300),
            vials_received=50,
            received_on=today,
        )

    results, errors = at_once([receive, receive, receive])
    assert len(results) == 1
    assert len(errors) == 2 and all(isinstance(e, ValidationError) for e in errors), errors
    assert all("already" in str(e) for e in errors)
    assert DrugLot.objects.filter(lot_number="LOT-TWICE").count() == 1


@pytest.mark.django_db
def test_the_lot_page_shows_why_a_second_receipt_is_refused(login: Any, pharmacy_lot: Any) -> None:
    client = login("pharmacist")
    today = date.today()
    response = client.post(
        "/pharmacy/lots/receive/",
        {
            "lot_number": pharmacy_lot.lot_number,
            "expiry_date": (today + timedelta(days=300)).isoformat(),
            "vials_received": "10",
            "received_on": today.isoformat(),
        },
    )
    assert response.status_code == 200
    assert "already" in response.content.decode()
    assert DrugLot.objects.count() == 1
