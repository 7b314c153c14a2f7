"""A refused dispense or waste shows its reason on the bag's page and does not redirect as if it worked."""

from __future__ import annotations

from typing import Any

import pytest

from trial.pharmacy.models import Preparation


def _prepared(world: Any) -> Preparation:
    return next(p for p in world.preparations if p.status == Preparation.Status.PREPARED)


@pytest.mark.django_db
def test_it_refuses_to_dispense_a_bag_twice_and_says_why(login: Any, trial_world: Any) -> None:
    prep = _prepared(trial_world)
    client = login("pharmacist")
    first = client.post(f"/pharmacy/preparations/{prep.pk}/dispense/", {"dispensed_to": "Nurse Ada"})
    assert first.status_code == 302
    second = client.post(f"/pharmacy/preparations/{prep.pk}/dispense/", {"dispensed_to": "Nurse Bea"})
    assert second.status_code == 409
    assert "cannot be dispensed" in second.content.decode()
    prep.refresh_from_db()
    assert prep.dispensed_to == "Nurse Ada"


@pytest.mark.django_db
def test_it_refuses_to_waste_a_dispensed_bag_and_says_why(login: Any, trial_world: Any) -> None:
    prep = _prepared(trial_world)
    client = login("pharmacist")
    client.post(f"/pharmacy/preparations/{prep.pk}/dispense/", {"dispensed_to": "Nurse Ada"})
    response = client.post(f"/pharmacy/preparations/{prep.pk}/waste/", {"reason": "dropped"})
    assert response.status_code == 409
    assert "Only a prepared, undispensed bag can be wasted" in response.content.decode()
    prep.refresh_from_db()
    assert prep.status == Preparation.Status.DISPENSED


@pytest.mark.django_db
def test_it_keeps_a_dispense_without_a_nurse_on_the_page(login: Any, trial_world: Any) -> None:
    prep = _prepared(trial_world)
    response = login("pharmacist").post(f"/pharmacy/preparations/{prep.pk}/dispense/", {"dispensed_to": ""})
    assert response.status_code == 400
    assert "Name the nurse who received the bag." in response.content.decode()
