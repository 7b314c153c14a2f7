"""Rules of the pharmacy records: drug lot, preparation, wastage.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trial.core.validators import EndAfterStart, InRange, Required, Rule
from trial.protocol.config import ProtocolConfig


class AtLeastOne:
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        value = data.get(self.field)
        return {self.field: self.message} if value is not None and value < 1 else {}


def drug_lot_rules() -> list[Rule]:
    return [
        AtLeastOne("vials_received", "A lot has at least one vial."),
        EndAfterStart("received_on", "expiry_date", "The lot expired before it was received.", strict=True),
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


def wastage_rules() -> list[Rule]:
    return [
        AtLeastOne("vials", "At least one vial."),
        Required("reason", "Give the reason the vials were wasted."),
    ]
