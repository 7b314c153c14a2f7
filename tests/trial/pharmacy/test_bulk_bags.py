"""A clinic day's bags prepared and dispensed at once (trial.pharmacy.services.preparations_create and
preparations_dispense): the same bags and the same refusals as one at a time, each refusal naming
its visit or bag, and drug accountability that adds up (ICH E6(R3): investigational product
accountability). All or nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.conftest import second_check_for
from tests.trial.pharmacy.test_prepare_and_dispense import arm_of
from trial.participants.services import end_of_study_record
from trial.pharmacy import services
from trial.pharmacy.models import DrugLot, Preparation
from trial.pharmacy.selectors import lot_balance
from trial.pharmacy.services import (
    BagOrder,
    drug_lot_receive,
    preparation_create,
    preparation_waste,
    preparations_create,
    preparations_dispense,
)
from trial.protocol.selectors import protocol
from trial.visits.models import Visit
from trial.visits.services import visit_complete, visit_miss
from trial.workspace.services import participant_enrol

pytestmark = pytest.mark.django_db

# Fields a bag is made up with; prepared_at and kit_id differ by design (the time, a random label).
BAG_FIELDS = (
    "dose_mg",
    "vials",
    "volume_ml",
    "weight_kg",
    "lot_id",
    "vials_from_lot",
    "saline_lot",
    "prepared_by_id",
    "second_checker",
    "second_checked_by_id",
    "status",
)


@pytest.fixture
def in_arm(make_participant: Any, active_list: Any, coordinator: Any) -> Any:
    """`in_arm("IFX")`: a participant randomized to that arm, baseline planned 28 days ago (so weeks 1-4
    are due in the past and can be missed); baseline done on its due date."""

    def make(arm: str) -> Any:
        for _ in range(20):
            p = make_participant(screened_days_ago=30)
            participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
            if arm_of(p) == arm:
                baseline = p.visits.get(definition__week=0)
                visit_complete(visit=baseline, actual_date=baseline.scheduled_date, by=coordinator)
                p.refresh_from_db()
                return p
        raise AssertionError(f"no {arm} participant in 20")

    return make


def _visit(participant: Any, code: str) -> Visit:
    return Visit.objects.select_related("definition", "participant").get(participant=participant, definition__code=code)


def _prepare(users: Any, bags: list[BagOrder]) -> list[Preparation]:
    return preparations_create(
        bags=bags, by=users["pharmacist"], saline_lot="NS1", second_check=second_check_for(users)
    )


def _refused(users: Any, bags: list[BagOrder]) -> str:
    before = Preparation.objects.count()
    with pytest.raises(ValidationError) as refused:
        _prepare(users, bags)
    assert Preparation.objects.count() == before  # all or nothing
    return " ".join(refused.value.messages)


def _values(bag: Preparation) -> tuple[Any, ...]:
    bag = Preparation.objects.get(pk=bag.pk)
    return tuple(getattr(bag, f) for f in BAG_FIELDS)


# --- The same bags as one at a time ----------------------------------------------------------------


def test_it_makes_the_bags_preparation_create_makes(in_arm: Any, users: Any, pharmacy_lot: DrugLot) -> None:
    active, placebo, alone = in_arm("IFX"), in_arm("PBO"), in_arm("IFX")
    made = _prepare(
        users,
        [
            BagOrder(_visit(active, "W0"), 82, pharmacy_lot),
            BagOrder(_visit(placebo, "W0"), Decimal("82.0"), pharmacy_lot),
        ],
    )
    one = preparation_create(
        visit=_visit(alone, "W0"),
        by=users["pharmacist"],
        weight_kg=82,
        saline_lot="NS1",
        second_check=second_check_for(users),
        lot=pharmacy_lot,
    )
    assert _values(made[0]) == _values(one)
    # Design: 5 mg/kg for 82 kg, rounded to 4 vials of 100 mg, each reconstituted with 10 mL.
    assert (made[0].dose_mg, made[0].vials, made[0].volume_ml, made[0].vials_from_lot) == (400, 4, Decimal(40), 4)
    assert made[0].second_checker == "pharmacist2" and made[0].second_checked_by == users["pharmacist2"]
    # The placebo bag looks the same and draws nothing from the lot (Design, Blinding).
    bag = Preparation.objects.get(pk=made[1].pk)
    assert (bag.dose_mg, bag.vials, bag.volume_ml) == (400, 4, Decimal(40))
    assert (bag.lot, bag.vials_from_lot) == (None, 0)
    assert len({b.kit_id for b in (*made, one)}) == 3
    for bag in made:
        (row,) = Preparation.objects.get(pk=bag.pk).history.all()
        assert (row.history_user, row.history_change_reason) == (users["pharmacist"], "Initial entry")


# --- Refusals, each naming its visit ----------------------------------------------------------------


def test_a_withdrawn_participant_is_refused(in_arm: Any, users: Any, pharmacy_lot: DrugLot, coordinator: Any) -> None:
    fine, gone = in_arm("IFX"), in_arm("IFX")
    end_of_study_record(
        participant=gone, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    message = _refused(
        users, [BagOrder(_visit(fine, "W0"), 82, pharmacy_lot), BagOrder(_visit(gone, "W2"), 82, pharmacy_lot)]
    )
    assert message == f"{_visit(gone, 'W2')}: This participant has withdrawn: no infusion can be prepared or dispensed."


def test_a_visit_without_an_infusion_is_refused(in_arm: Any, users: Any, pharmacy_lot: DrugLot) -> None:
    p = in_arm("IFX")
    w1 = _visit(p, "W1")
    message = _refused(users, [BagOrder(_visit(p, "W0"), 82, pharmacy_lot), BagOrder(w1, 82, pharmacy_lot)])
    assert message == f"{w1}: No infusion is given at {w1.definition.name} (Schedule)."


def test_a_missed_visit_is_refused(in_arm: Any, users: Any, pharmacy_lot: DrugLot, coordinator: Any) -> None:
    p = in_arm("IFX")
    w2 = visit_miss(visit=_visit(p, "W2"), reason="Unwell", by=coordinator)
    message = _refused(users, [BagOrder(_visit(p, "W0"), 82, pharmacy_lot), BagOrder(w2, 82, pharmacy_lot)])
    assert message == f"{w2}: This visit is recorded as missed."


def test_a_visit_with_a_bag_already_made_is_refused_until_it_is_wasted(
    in_arm: Any, users: Any, pharmacy_lot: DrugLot
) -> None:
    p = in_arm("IFX")
    w0, w2 = _visit(p, "W0"), _visit(p, "W2")
    (first,) = _prepare(users, [BagOrder(w0, 82, pharmacy_lot)])
    message = _refused(users, [BagOrder(w2, 82, pharmacy_lot), BagOrder(w0, 82, pharmacy_lot)])
    assert message == f"{w0}: A bag has already been prepared for this visit; waste it first to prepare another."
    preparation_waste(preparation=first, by=users["pharmacist"], reason="Dropped")
    assert len(_prepare(users, [BagOrder(w2, 82, pharmacy_lot), BagOrder(w0, 82, pharmacy_lot)])) == 2


def test_the_same_visit_twice_is_refused(in_arm: Any, users: Any, pharmacy_lot: DrugLot) -> None:
    p = in_arm("IFX")
    w0 = _visit(p, "W0")
    message = _refused(users, [BagOrder(w0, 82, pharmacy_lot), BagOrder(_visit(p, "W0"), 90, pharmacy_lot)])
    assert message.startswith(f"{w0}: ") and "given twice" in message


def test_an_expired_lot_is_refused(
    in_arm: Any, users: Any, pharmacy_lot: DrugLot, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = in_arm("IFX")
    short = drug_lot_receive(
        by=users["pharmacist"],
        lot_number="LOT-SHORT",
        expiry_date=date.today() + timedelta(days=1),
        vials_received=50,
        received_on=date.today(),
    )
    # Two days on, the short lot has expired; the other has not.
    monkeypatch.setattr(services, "timezone", _DaysLater(2))
    w0, w2 = _visit(p, "W0"), _visit(p, "W2")
    message = _refused(users, [BagOrder(w0, 82, pharmacy_lot), BagOrder(w2, 82, short)])
    assert message == f"{w2}: Lot LOT-SHORT expired on {short.expiry_date:%d %b %Y}."


def test_a_lot_must_hold_the_vials_of_every_bag_drawn_from_it(in_arm: Any, users: Any) -> None:
    first, second = in_arm("IFX"), in_arm("IFX")
    # Enough for one 82 kg bag (4 vials), not for two.
    small = drug_lot_receive(
        by=users["pharmacist"],
        lot_number="LOT-4",
        expiry_date=date.today() + timedelta(days=365),
        vials_received=4,
        received_on=date.today(),
    )
    w0b = _visit(second, "W0")
    message = _refused(users, [BagOrder(_visit(first, "W0"), 82, small), BagOrder(w0b, 82, small)])
    assert message == f"{w0b}: Lot LOT-4 has 0 vials left; 4 are needed."
    assert lot_balance(small).balance == 4
    # Each alone fits.
    assert len(_prepare(users, [BagOrder(w0b, 82, small)])) == 1


def test_an_active_bag_needs_a_lot(in_arm: Any, users: Any) -> None:
    w0 = _visit(in_arm("IFX"), "W0")
    message = _refused(users, [BagOrder(w0, 82)])
    assert message == f"{w0}: Choose the drug lot the vials come from."


def test_a_blinded_role_cannot_prepare_bags(in_arm: Any, users: Any, pharmacy_lot: DrugLot) -> None:
    w0 = _visit(in_arm("IFX"), "W0")
    with pytest.raises(PermissionDenied):
        preparations_create(
            bags=[BagOrder(w0, 82, pharmacy_lot)],
            by=users["coordinator"],
            saline_lot="NS1",
            second_check=second_check_for(users),
        )
    assert not Preparation.objects.exists()


# --- Dispensing ---------------------------------------------------------------------------------------


class _DaysLater:
    """The services' clock, moved on (django.utils.timezone otherwise)."""

    def __init__(self, days: float) -> None:
        self.delta = timedelta(days=days)

    def now(self) -> Any:
        return timezone.now() + self.delta

    def localdate(self, *args: Any) -> date:
        return timezone.localdate(*args) + self.delta

    def __getattr__(self, name: str) -> Any:
        return getattr(timezone, name)


@pytest.fixture
def two_bags(in_arm: Any, users: Any, pharmacy_lot: DrugLot) -> list[Preparation]:
    """Two active bags of 4 vials each from the 200-vial lot."""
    a, b = in_arm("IFX"), in_arm("IFX")
    return _prepare(users, [BagOrder(_visit(a, "W0"), 82, pharmacy_lot), BagOrder(_visit(b, "W0"), 82, pharmacy_lot)])


def test_it_dispenses_the_bags_and_accountability_adds_up(
    two_bags: list[Preparation], users: Any, pharmacy_lot: DrugLot
) -> None:
    balance = lot_balance(pharmacy_lot)
    assert (balance.prepared_not_dispensed, balance.dispensed, balance.balance) == (8, 0, 192)
    preparations_dispense(preparations=two_bags, by=users["pharmacist"], dispensed_to=" Nurse Ada ")
    for bag in two_bags:
        stored = Preparation.objects.get(pk=bag.pk)
        assert stored.status == Preparation.Status.DISPENSED
        assert (stored.dispensed_by, stored.dispensed_to) == (users["pharmacist"], "Nurse Ada")
        assert stored.dispensed_at is not None and stored.version == 2
        latest = stored.history.latest("history_id")
        assert (latest.history_change_reason, latest.history_user) == ("Dispensed to Nurse Ada", users["pharmacist"])
    balance = lot_balance(pharmacy_lot)
    assert (balance.received, balance.prepared_not_dispensed, balance.dispensed, balance.balance) == (200, 0, 8, 192)


def _statuses(bags: list[Preparation]) -> list[str]:
    return [Preparation.objects.get(pk=b.pk).status for b in bags]


def test_a_bag_not_prepared_is_refused_and_nothing_is_dispensed(two_bags: list[Preparation], users: Any) -> None:
    wasted = preparation_waste(preparation=two_bags[1], by=users["pharmacist"], reason="Leaking")
    with pytest.raises(ValidationError) as refused:
        preparations_dispense(preparations=[two_bags[0], wasted], by=users["pharmacist"], dispensed_to="Nurse Ada")
    assert refused.value.messages == [f"Bag {wasted.kit_id}: This bag cannot be dispensed (status: Wasted)."]
    assert _statuses(two_bags) == [Preparation.Status.PREPARED, Preparation.Status.WASTED]


def test_a_bag_dispensed_already_is_refused(two_bags: list[Preparation], users: Any) -> None:
    preparations_dispense(preparations=[two_bags[0]], by=users["pharmacist"], dispensed_to="Nurse Ada")
    with pytest.raises(ValidationError, match=r"status: Dispensed"):
        preparations_dispense(preparations=two_bags, by=users["pharmacist"], dispensed_to="Nurse Bo")
    assert _statuses(two_bags) == [Preparation.Status.DISPENSED, Preparation.Status.PREPARED]
    assert Preparation.objects.get(pk=two_bags[0].pk).dispensed_to == "Nurse Ada"


def test_a_bag_past_its_use_by_is_refused(
    two_bags: list[Preparation], users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = protocol().infusion_use_by_hours
    monkeypatch.setattr(services, "timezone", _DaysLater((hours + 0.1) / 24))
    with pytest.raises(ValidationError, match=rf"^\['Bag {two_bags[0].kit_id}: .*waste it and prepare another"):
        preparations_dispense(preparations=two_bags, by=users["pharmacist"], dispensed_to="Nurse Ada")
    assert _statuses(two_bags) == [Preparation.Status.PREPARED] * 2
    monkeypatch.setattr(services, "timezone", _DaysLater((hours - 0.1) / 24))
    preparations_dispense(preparations=two_bags, by=users["pharmacist"], dispensed_to="Nurse Ada")
    assert _statuses(two_bags) == [Preparation.Status.DISPENSED] * 2


def test_a_bag_given_twice_is_refused(two_bags: list[Preparation], users: Any) -> None:
    again = Preparation.objects.get(pk=two_bags[0].pk)
    with pytest.raises(ValidationError, match=rf"Bag {again.kit_id}: the bag is given twice"):
        preparations_dispense(preparations=[*two_bags, again], by=users["pharmacist"], dispensed_to="Nurse Ada")
    assert _statuses(two_bags) == [Preparation.Status.PREPARED] * 2


def test_a_blinded_role_cannot_dispense(two_bags: list[Preparation], users: Any) -> None:
    with pytest.raises(PermissionDenied):
        preparations_dispense(preparations=two_bags, by=users["coordinator"], dispensed_to="Nurse Ada")
    assert _statuses(two_bags) == [Preparation.Status.PREPARED] * 2
