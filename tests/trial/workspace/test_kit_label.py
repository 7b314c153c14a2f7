"""The printed kit label: a QR code of the kit id and the investigational-use caution, and nothing that
differs between the arms except the kit's own random id (the blind: ICH E6(R3) 4.2)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse


def label_box(html: str) -> str:
    match = re.search(r'<div class="label">.*?</div>', html, re.S)
    assert match is not None
    return match.group(0)


@pytest.mark.django_db
def test_labels_of_both_arms_differ_only_by_kit_participant_and_time(login: Any, trial_world: Any) -> None:
    client = login("pharmacist")
    seen: dict[str, str] = {}
    for prep in trial_world.preparations:
        box = label_box(client.get(reverse("pharmacy:label", args=[prep.pk])).content.decode())
        assert f'aria-label="QR code of kit {prep.kit_id}"' in box
        assert "Limited by Federal (or United States) law to investigational use" in box
        visit = prep.visit
        normal = box.replace(prep.kit_id, "KIT").replace(visit.participant.participant_id, "PID")
        normal = normal.replace(visit.definition.name, "VISIT")
        normal = re.sub(r'\bd="[^"]*"', 'd=""', normal)  # the QR modules themselves encode the kit id
        normal = re.sub(r'width="\d+" height="\d+"', "", normal)  # QR size follows the id's length only
        normal = re.sub(r"Prepared [^<]*", "Prepared", normal)
        normal = re.sub(r"Use by [^<]*", "Use by", normal)
        seen.setdefault(trial_world.arms[visit.participant.pk], normal)
        assert normal == seen[trial_world.arms[visit.participant.pk]]
    assert len(seen) == 2, "the world should hold preparations of both arms"
    first, second = seen.values()
    assert first == second
