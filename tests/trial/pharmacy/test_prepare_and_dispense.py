"""Preparation, dispensing and accountability."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.conftest import second_check_for
from trial.participants.services import end_of_study_record
from trial.pharmacy.models import Preparation
from trial.pharmacy.selectors import infusion_queue, lot_balance
from trial.pharmacy.services import (
    drug_lot_receive,
    preparation_create,
    preparation_dispense,
    preparation_waste,
    wastage_record,
)
from trial.randomization.models import ListEntry
from trial.workspace.services import participant_enrol as participant_randomize


def arm_of(participant: Any) -> str:
    return ListEntry.objects.get(allocation__participant=participant).arm  # test-side truth


def randomize_until(make_participant: Any, coordinator: Any, arm: str) -> Any:
    for _ in range(20):
        p = make_participant()
        participant_randomize(participant=p, by=coordinator)
        p.refresh_from_db()
        if arm_of(p) == arm:
            return p
    raise AssertionError(f"no {arm} participant in 20")


@pytest.mark.django_db
def test_the_queue_shows_the_infusions_due_with_arm_weight_and_dose(randomized: Any, users: Any) -> None:
    rows = infusion_queue(user=users["pharmacist"])
    assert [r.visit.definition.code for r in rows] == ["W0", "W2", "W6"]
    row = rows[1]
    assert row.participant_id == randomized.participant_id
    assert row.randomization_number == randomized.allocation.entry.randomization_number
    assert row.arm_code == arm_of(randomized)
    assert row.weight.kg == 82.0 and row.weight.source == "screening"
    assert (row.plan.dose_mg, row.plan.vials, row.plan.volume_ml) == (400, 4, 40)


@pytest.mark.django_db
def test_the_queue_is_refused_to_blinded_roles(randomized: Any, users: Any) -> None:
    for name in ("coordinator", "rater", "investigator", "datamanager", "statistician", "admin"):
        with pytest.raises(PermissionError):
            infusion_queue(user=users[name])


@pytest.mark.django_db
def test_an_active_bag_draws_vials_from_the_lot_and_accountability_adds_up(
    make_participant: Any, active_list: Any, coordinator: Any, users: Any, pharmacy_lot: Any
) -> None:
    p = randomize_until(make_participant, coordinator, "IFX")
    w0, w2 = (p.visits.get(definition__code=c) for c in ("W0", "W2"))
    pharmacist = users["pharmacist"]
    with pytest.raises(ValidationError, match="Choose the drug lot"):
        preparation_create(
            visit=w0, by=pharmacist, weight_kg=82, saline_lot="NS1", second_check=second_check_for(users)
        )
    bag = preparation_create(
        visit=w0, by=pharmacist, weight_kg=82, saline_lot="NS1", second_check=second_check_for(users), lot=pharmacy_lot
    )
    assert (
        bag.vials_from_lot == 4
        and bag.prepared_by == pharmacist
        and bag.second_checker == "pharmacist2"
        and bag.second_checked_by == users["pharmacist2"]
    )
    preparation_dispense(preparation=bag, by=pharmacist, dispensed_to="Nurse Ada")
    bag2 = preparation_create(
        visit=w2, by=pharmacist, weight_kg=95, saline_lot="NS1", second_check=second_check_for(users), lot=pharmacy_lot
    )
    preparation_waste(preparation=bag2, by=pharmacist, reason="Bag punctured")
    wastage_record(lot=pharmacy_lot, by=pharmacist, vials=2, wasted_on=date.today(), reason="Dropped")
    b = lot_balance(pharmacy_lot)
    assert (b.received, b.dispensed, b.prepared_not_dispensed, b.wasted, b.balance) == (200, 4, 0, 5 + 2, 189)
    # A wasted bag can be replaced.
    again = preparation_create(
        visit=w2, by=pharmacist, weight_kg=95, saline_lot="NS1", second_check=second_check_for(users), lot=pharmacy_lot
    )
    assert again.status == Preparation.Status.PREPARED and lot_balance(pharmacy_lot).balance == 184
    with pytest.raises(ValidationError, match="already been prepared"):
        preparation_create(
            visit=w2,
            by=pharmacist,
            weight_kg=95,
            saline_lot="NS1",
            second_check=second_check_for(users),
            lot=pharmacy_lot,
        )


@pytest.mark.django_db
def test_a_placebo_bag_draws_nothing_from_a_lot(
    make_participant: Any, active_list: Any, coordinator: Any, users: Any, pharmacy_lot: Any
) -> None:
    p = randomize_until(make_participant, coordinator, "PBO")
    bag = preparation_create(
        visit=p.visits.get(definition__code="W0"),
        by=users["pharmacist"],
        weight_kg=82,
        saline_lot="NS1",
        second_check=second_check_for(users),
        lot=pharmacy_lot,
    )
    assert bag.lot is None and bag.vials_from_lot == 0 and bag.dose_mg == 400 and bag.volume_ml == 40
    assert lot_balance(pharmacy_lot).balance == 200


@pytest.mark.django_db
def test_it_refuses_a_lot_without_enough_vials_or_out_of_date(
    make_participant: Any, active_list: Any, coordinator: Any, users: Any
) -> None:
    pharmacist = users["pharmacist"]
    small = drug_lot_receive(
        by=pharmacist,
        lot_number="SMALL",
        expiry_date=date.today() + timedelta(days=30),
        vials_received=3,
        received_on=date.today(),
    )
    p = randomize_until(make_participant, coordinator, "IFX")
    with pytest.raises(ValidationError, match="has 3 vials left; 4 are needed"):
        preparation_create(
            visit=p.visits.get(definition__code="W0"),
            by=pharmacist,
            weight_kg=82,
            saline_lot="NS",
            second_check=second_check_for(users),
            lot=small,
        )


@pytest.mark.django_db
def test_nothing_is_prepared_or_dispensed_for_a_withdrawn_participant(
    randomized: Any, users: Any, pharmacy_lot: Any, coordinator: Any
) -> None:
    pharmacist = users["pharmacist"]
    w0, w2 = (randomized.visits.get(definition__code=c) for c in ("W0", "W2"))
    bag = preparation_create(
        visit=w0, by=pharmacist, weight_kg=82, saline_lot="NS", second_check=second_check_for(users), lot=pharmacy_lot
    )
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    with pytest.raises(ValidationError, match="has withdrawn"):
        preparation_dispense(preparation=bag, by=pharmacist, dispensed_to="Nurse")
    with pytest.raises(ValidationError, match="has withdrawn"):
        preparation_create(
            visit=w2,
            by=pharmacist,
            weight_kg=82,
            saline_lot="NS",
            second_check=second_check_for(users),
            lot=pharmacy_lot,
        )
    assert infusion_queue(user=pharmacist) == []


@pytest.mark.django_db
def test_nothing_is_prepared_before_randomization(
    make_participant: Any, active_list: Any, users: Any, pharmacy_lot: Any, coordinator: Any
) -> None:
    from trial.protocol.models import VisitDefinition
    from trial.visits.models import Visit

    p = make_participant()  # eligible, consented, not randomized
    # A visit row for them, made directly, as if scheduled by mistake: the pharmacy still refuses.
    d = VisitDefinition.objects.get(code="W0")
    visit = Visit(
        participant=p, definition=d, scheduled_date=date.today(), window_start=date.today(), window_end=date.today()
    )
    from trial.core.services import record_save

    record_save(visit, by=coordinator)
    with pytest.raises(ValidationError, match="has not been randomized"):
        preparation_create(
            visit=visit,
            by=users["pharmacist"],
            weight_kg=82,
            saline_lot="NS",
            second_check=second_check_for(users),
            lot=pharmacy_lot,
        )


@pytest.mark.django_db
def test_only_a_pharmacist_prepares_and_dispenses(randomized: Any, users: Any, pharmacy_lot: Any) -> None:
    w0 = randomized.visits.get(definition__code="W0")
    for name in ("coordinator", "unblinded", "dsmb", "investigator"):
        with pytest.raises(PermissionDenied):
            preparation_create(
                visit=w0,
                by=users[name],
                weight_kg=82,
                saline_lot="NS",
                second_check=second_check_for(users),
                lot=pharmacy_lot,
            )
