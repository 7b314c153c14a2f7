"""Cross-field rules of the visit forms (see trial.participants.validators for the shape of a rule)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ElisaDuplicatesComplete:
    """TNF, sTNFR1 and sTNFR2 are run by ELISA in duplicate (Schedule of assessments): both or neither."""

    def __init__(self, analytes: Iterable[tuple[str, str]]) -> None:
        self.analytes = tuple(analytes)  # (code, label) of the analytes run in duplicate

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        errors = {}
        for code, label in self.analytes:
            r1, r2 = data.get(f"{code}_replicate_1"), data.get(f"{code}_replicate_2")
            if (r1 is None) != (r2 is None):
                missing = f"{code}_replicate_2" if r2 is None else f"{code}_replicate_1"
                errors[missing] = f"{label} is run in duplicate: enter both replicates."
        return errors


class SampleTimeWhenResults:
    """A lab result needs the time its blood was drawn (protocol: between 8 and 10 AM)."""

    def __init__(self, value_fields: Iterable[str]) -> None:
        self.value_fields = tuple(value_fields)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if any(data.get(f) is not None for f in self.value_fields) and not data.get("sample_time"):
            return {"sample_time": "Give the time the sample was drawn."}
        if not any(data.get(f) is not None for f in self.value_fields):
            return {"__all__": "Enter at least one result."}
        return {}


class BloodPressureOrder:
    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        sys_, dia = data.get("systolic_mmhg"), data.get("diastolic_mmhg")
        if sys_ is not None and dia is not None and dia >= sys_:
            return {"diastolic_mmhg": "Diastolic pressure must be below systolic."}
        if (sys_ is None) != (dia is None):
            return {"diastolic_mmhg" if dia is None else "systolic_mmhg": "Enter both systolic and diastolic pressure."}
        return {}


class InfusionDelay:
    """An infusion delayed for infection needs the reason and the days of delay (protocol: Design)."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        errors = {}
        delayed = bool(data.get("delayed_for_infection"))
        if delayed and not (data.get("delay_reason") or "").strip():
            errors["delay_reason"] = "Give the reason for the delay (signs of infection, treatment started)."
        if delayed and not data.get("delay_days"):
            errors["delay_days"] = "Give the number of days the infusion was delayed."
        if not delayed and data.get("delay_days"):
            errors["delay_days"] = "Delay days are recorded only for an infusion delayed for infection."
        return errors


class InfusionTimes:
    """Stop after start; a stop time needs a start time."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        start, stop = data.get("start_time"), data.get("stop_time")
        if stop is not None and start is None:
            return {"start_time": "Give the start time as well."}
        if start is not None and stop is not None and stop <= start:
            return {"stop_time": "The infusion must stop after it starts."}
        return {}
