"""Pharmacy dosing with two active doses (protocols/infliximab_trd_dose.toml): each arm gets its own
dose, every bag the volume of the highest dose, and nothing a blinded person sees (the infusion
form's planned dose, the kit label) differs by drug or by dose."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import PROTOCOL_DIR, second_check_for

SECOND = pytest.param(PROTOCOL_DIR / "infliximab_trd_dose.toml", id="infliximab_trd_dose")
pytestmark = pytest.mark.parametrize("protocol_file", [SECOND], indirect=True)


@pytest.mark.parametrize(("weight", "ifx10", "ifx5"), [(82, 800, 400), (74.9, 700, 400), (45, 500, 200)])
def test_each_dose_is_its_own_mg_per_kg_in_whole_vials_and_every_bag_has_one_volume(
    protocol_file: Any, weight: float, ifx10: int, ifx5: int
) -> None:
    from trial.pharmacy.selectors import dose_plan

    high, low, placebo = (dose_plan(arm_code=a, weight_kg=weight) for a in ("IFX10", "IFX5", "PBO"))
    # Hand-computed: 10 and 5 mg/kg x weight, half up to whole 100 mg vials; 10 mL per vial.
    assert (high.dose_mg, high.vials, low.dose_mg, low.vials) == (ifx10, ifx10 // 100, ifx5, ifx5 // 100)
    assert high.volume_ml == low.volume_ml == placebo.volume_ml == Decimal(ifx10 // 100 * 10)
    assert high.draws_vials and low.draws_vials and not placebo.draws_vials
    assert "make up the rest of the volume with saline" in low.preparation


@pytest.mark.django_db
def test_kit_labels_and_the_infusion_form_say_the_same_for_every_arm(
    client: Any, users: Any, make_participant: Any, active_list: Any, pharmacy_lot: Any, coordinator: Any
) -> None:
    from trial.pharmacy.services import preparation_create
    from trial.protocol.models import Site
    from trial.randomization.models import ListEntry
    from trial.visits.services import infusion_record, visit_complete
    from trial.workspace.services import participant_enrol

    labels: dict[str, str] = {}
    planned: dict[str, int] = {}
    sites = list(Site.objects.order_by("code"))
    for i in range(12):  # enough people, over the six strata, for every arm to come up
        p = make_participant(sex="FM"[i % 2], at_site=sites[i // 2 % 3], weight_kg=82)
        participant_enrol(participant=p, by=coordinator)
        p.refresh_from_db()
        arm = ListEntry.objects.get(allocation__participant=p).arm
        if arm in labels:
            continue
        w0 = p.visits.get(definition__week=0)
        visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
        planned[arm] = infusion_record(visit=w0, data={"weight_kg": 82}, by=coordinator).planned_dose_mg
        prep = preparation_create(
            visit=w0,
            by=users["pharmacist"],
            weight_kg=82,
            saline_lot="NS-1",
            second_check=second_check_for(users),
            lot=pharmacy_lot if arm != "PBO" else None,
        )
        client.force_login(users["pharmacist"])
        page = client.get(f"/pharmacy/preparations/{prep.pk}/label/").content.decode()
        label = re.search(r'<div class="label">.*?</div>', page, re.S)
        assert label is not None
        # What differs by design: the random kit id, the participant, the time of preparation.
        text = label.group(0).replace(prep.kit_id, "KIT").replace(p.participant_id, "PID")
        text = re.sub(r'\bd="[^"]*"', 'd=""', text)  # the QR code's modules encode the kit id
        text = re.sub(r'width="\d+" height="\d+"', "", text)  # the QR's size follows the id's length only
        labels[arm] = re.sub(r"Prepared [^<]*", "Prepared ...", text)
    assert set(labels) == {"IFX10", "IFX5", "PBO"}
    assert len(set(labels.values())) == 1, labels
    assert not re.search(r"mg/kg|infliximab|placebo|IFX10|IFX5", labels["IFX5"], re.I)
    assert len(set(planned.values())) == 1 and planned["IFX5"] == 800  # the 10 mg/kg bag's, for everyone
