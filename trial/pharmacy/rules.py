"""Rules of the pharmacy records: drug lot, preparation, wastage.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from trial.core.validators import EndAfterStart, InRange, NotBefore, NotInFuture, Required, Rule
from trial.protocol.config import ProtocolConfig


class AtLeastOne:
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        value = data.get(self.field)
        return {self.field: self.message} if value is not None and value < 1 else {}


class ExpiryWithinShelfLife:
    """A lot's expiry is no further after its receipt than the protocol file's shelf life ([dates])."""

    def __init__(self, max_days: int) -> None:
        self.max_days = max_days

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        received, expiry = data.get("received_on"), data.get("expiry_date")
        if not isinstance(received, date) or not isinstance(expiry, date):
            return {}
        if (expiry - received).days > self.max_days:  # a difference: no overflow near year 9999
            return {
                "expiry_date": f"An expiry over {self.max_days} days after receipt is not plausible: check the year."
            }
        return {}


class WastedWhileInStock:
    """Vials are wasted after their lot was received (the lot is the value `lot`), and not in the future."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        lot, day = data.get("lot"), data.get("wasted_on")
        received = getattr(lot, "received_on", None)
        if isinstance(day, date) and isinstance(received, date) and day < received:
            return {"wasted_on": f"The lot was received on {received:%d %b %Y}: vials cannot be wasted before."}
        return {}


def drug_lot_rules(config: ProtocolConfig) -> list[Rule]:
    vials = config.measure("vials")
    return [
        AtLeastOne("vials_received", "A lot has at least one vial."),
        InRange("vials_received", vials.min, vials.max, label="Vials received", unit=vials.unit),
        EndAfterStart("received_on", "expiry_date", "The lot expired before it was received.", strict=True),
        NotInFuture("received_on"),
        NotBefore("received_on", earliest=config.earliest_date),
        ExpiryWithinShelfLife(config.lot_shelf_life_max_days),
    ]


def preparation_rules(config: ProtocolConfig) -> list[Rule]:
    # Design: 5 mg/kg, so the weight the dose is made up for is checked against the protocol file's range.
    weight = config.measure("weight_kg")
    return [
        InRange("weight_kg", weight.min, weight.max, label=weight.label, unit=weight.unit),
        Required("second_checker", "Name the second person who checked the bag."),
        # Design: dispensed in a 250 mL saline bag.
        Required("saline_lot", "Record the lot of the 250 mL saline bag."),
        Required("dispensed_to", "Name the nurse who received the bag.", when={"status": "dispensed"}),
        Required("wasted_reason", "Give the reason the bag was wasted.", when={"status": "wasted"}),
    ]


def wastage_rules(config: ProtocolConfig) -> list[Rule]:
    vials = config.measure("vials")
    return [
        AtLeastOne("vials", "At least one vial."),
        InRange("vials", vials.min, vials.max, label="Vials", unit=vials.unit),
        NotInFuture("wasted_on"),
        NotBefore("wasted_on", earliest=config.earliest_date),
        WastedWhileInStock(),
        Required("reason", "Give the reason the vials were wasted."),
    ]
