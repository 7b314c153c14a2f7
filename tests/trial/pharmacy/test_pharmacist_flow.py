"""The demo flow through the pages: the pharmacist prepares and dispenses a week-2 infusion."""

from __future__ import annotations

import re
from typing import Any

import pytest

from trial.accounts.users import DEMO_PASSWORD
from trial.pharmacy.models import Preparation
from trial.randomization.models import ListEntry


@pytest.mark.django_db
def test_the_pharmacist_prepares_labels_and_dispenses_the_week_2_infusion(
    client: Any, users: Any, randomized: Any, pharmacy_lot: Any
) -> None:
    client.force_login(users["pharmacist"])
    queue = client.get("/pharmacy/").content.decode()
    arm = ListEntry.objects.get(allocation__participant=randomized).arm
    label = {"IFX": "Infliximab 5 mg/kg IV", "PBO": "Placebo (saline)"}[arm]
    assert randomized.participant_id in queue and label in queue and "400" in queue
    w2 = randomized.visits.get(definition__code="W2")
    page = client.get(f"/pharmacy/visits/{w2.pk}/prepare/").content.decode()
    assert "Withdraw 40.0 mL from the 250 mL 0.9% saline bag" in page
    # A missing second check keeps what was typed and says what is missing.
    response = client.post(
        f"/pharmacy/visits/{w2.pk}/prepare/",
        {"weight_kg": "82", "saline_lot": "NS-1", "lot": pharmacy_lot.pk, "second_checker": ""},
    )
    assert response.status_code == 200 and 'value="NS-1"' in response.content.decode()
    response = client.post(
        f"/pharmacy/visits/{w2.pk}/prepare/",
        {
            "weight_kg": "82",
            "saline_lot": "NS-1",
            "lot": pharmacy_lot.pk,
            "second_checker": "pharmacist2",
            "second_checker_password": DEMO_PASSWORD,
            "checked": "on",
        },
    )
    prep = Preparation.objects.get(visit=w2)
    assert response.status_code == 302 and response["Location"] == f"/pharmacy/preparations/{prep.pk}/"
    label_page = client.get(f"/pharmacy/preparations/{prep.pk}/label/").content.decode()
    assert prep.kit_id in label_page and "Infuse over 120 minutes" in label_page
    label_box = re.search(r'<div class="label".*?</div>', label_page, re.S).group(0)
    assert not re.search(r"infliximab|placebo|IFX\b|PBO|lot|vial", label_box.replace("IFX-TRD", ""), re.I)
    client.post(f"/pharmacy/preparations/{prep.pk}/dispense/", {"dispensed_to": "Nurse Ada"})
    prep.refresh_from_db()
    assert prep.status == "dispensed" and prep.dispensed_by == users["pharmacist"] and prep.dispensed_to == "Nurse Ada"
    assert f"/pharmacy/preparations/{prep.pk}/" not in client.get("/pharmacy/").content.decode()
