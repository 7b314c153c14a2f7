"""The accountability page logs every dispensation; a placebo bag shows no vial count (it draws none)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_every_dispensation_is_logged_and_placebo_rows_show_no_vials(login: Any, trial_world: Any) -> None:
    html = login("pharmacist").get(reverse("pharmacy:lots")).content.decode()
    log = re.search(r'<table id="dispensations">.*?</table>', html, re.S)
    assert log is not None
    dispensed = [p for p in trial_world.preparations if p.status in ("dispensed", "wasted")]
    assert dispensed, "the world dispenses some bags"
    arms = set()
    for prep in dispensed:
        row = re.search(rf'<tr data-kit="{prep.kit_id}">.*?</tr>', log.group(0), re.S)
        assert row is not None, prep.kit_id
        vials = re.search(r'<td class="vials">([^<]*)</td>', row.group(0))
        assert vials is not None
        arm = trial_world.arms[prep.visit.participant.pk]
        arms.add(arm)
        if arm == "PBO":
            assert vials.group(1) == "—"
        else:
            assert vials.group(1) == str(prep.vials_from_lot) and prep.vials_from_lot > 0
    assert arms == {"IFX", "PBO"}
    # Blinded roles never reach the page.
    assert login("coordinator").get(reverse("pharmacy:lots")).status_code == 403
