"""Rules of the visit records: visit, HAM-D-17, CGI-S, lab result, vital signs, infusion.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators). Ranges and item
maxima come from the protocol file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trial.core.validators import EndAfterStart, InRange, NotBefore, NotInFuture, OneOf, Required, Rule
from trial.participants.rules import NotAfterEndOfStudy, OnOrAfterScreening
from trial.protocol.config import Analyte, ProtocolConfig

MISSED_REASON = "Give the reason the visit was missed."
MISSED_REASON_CODE = "Choose why the visit was missed."
MISSED_OTHER = "other"  # [missed_visits] reasons: the code that needs the free text


def missed_reason_rules(config: ProtocolConfig, *, code: str = "reason_code", text: str = "reason") -> list[Rule]:
    """A missed visit's coded reason from the protocol file's list; the free text says what "other" was."""
    return [
        Required(code, MISSED_REASON_CODE, when={"status": "missed"}),
        OneOf(code, [r.code for r in config.missed_visit_reasons], label="The reason"),
        Required(text, MISSED_REASON, when={"status": "missed", code: MISSED_OTHER}),
    ]


def visit_date_rules(config: ProtocolConfig, field: str = "actual_date") -> list[Rule]:
    """The date a visit was done: not in the future, not before screening, and not after the end of
    study: a withdrawn participant has no assessments after the withdrawal (protocol file [safety])."""
    return [
        NotInFuture(field),
        NotBefore(field, earliest=config.earliest_date),
        OnOrAfterScreening(field),
        NotAfterEndOfStudy(field),
    ]


def visit_rules(config: ProtocolConfig) -> list[Rule]:
    return [
        EndAfterStart("window_start", "window_end", "The window must end on or after its start."),
        Required("actual_date", "A visit that was done needs its date.", when={"status": "done"}),
        *missed_reason_rules(config),
        *visit_date_rules(config),
    ]


def hamd_rules(config: ProtocolConfig) -> list[Rule]:
    """Items 1-3, 7-11 and 15 score 0-4; the others 0-2 (Instruments; the maxima are the file's)."""
    return [
        InRange(
            f"item_{item.number}",
            0,
            item.max,
            label=item.name,
            message=f"Item {item.number} ({item.name}) scores {{lo}} to {{hi}}; {{value}} is out of range.",
        )
        for item in config.hamd_items
    ]


def cgis_rules(config: ProtocolConfig) -> list[Rule]:
    """CGI-S: 1 (normal) to 7 (among the most extremely ill) (Instruments)."""
    scale = config.scales["cgis"]
    return [
        InRange(
            "score",
            scale.min,
            scale.max,
            label=scale.name,
            message="{label} scores {lo} (normal) to {hi} (among the most extremely ill); {value} is out of range.",
        )
    ]


class DuplicatesComplete:
    """TNF, sTNFR1 and sTNFR2 are run by ELISA in duplicate (Schedule of assessments): both replicates.

    `optional`: a form may leave an analyte out entirely (neither replicate); a saved result may not.
    """

    def __init__(self, analyte: Analyte, *, prefix: str = "", optional: bool = False) -> None:
        self.r1, self.r2 = f"{prefix}replicate_1", f"{prefix}replicate_2"
        self.message = f"{analyte.label} is run by ELISA in duplicate: enter both replicates."
        self.optional = optional

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        r1, r2 = data.get(self.r1), data.get(self.r2)
        if r1 is None and r2 is None:
            return {} if self.optional else {self.r1: self.message}
        if r1 is None or r2 is None:
            return {self.r1 if r1 is None else self.r2: self.message}
        return {}


def lab_rules(analyte: Analyte, *, prefix: str = "", optional: bool = False) -> list[Rule]:
    """One analyte's result within the protocol file's range; the form names its fields `<code>_value` etc."""
    names = ("replicate_1", "replicate_2", "value") if analyte.duplicates else ("value",)
    rules: list[Rule] = [
        InRange(f"{prefix}{name}", analyte.min, analyte.max, label=analyte.label, unit=analyte.unit) for name in names
    ]
    if analyte.duplicates:
        rules.append(DuplicatesComplete(analyte, prefix=prefix, optional=optional))
    return rules


class SampleTimeWhenResults:
    """A lab result needs the time its blood was drawn (protocol: between 8 and 10 AM).

    Form only: the model's sample_time is a required field, and a saved result is one analyte.
    """

    def __init__(self, value_fields: Iterable[str]) -> None:
        self.value_fields = tuple(value_fields)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if any(data.get(f) is not None for f in self.value_fields) and not data.get("sample_time"):
            return {"sample_time": "Give the time the sample was drawn."}
        if not any(data.get(f) is not None for f in self.value_fields):
            return {"__all__": "Enter at least one result."}
        return {}


VITAL_SIGNS = ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "temperature_c")


class BloodPressureOrder:
    """Both pressures or neither, and diastolic below systolic: half a blood pressure is not a reading."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        sys_, dia = data.get("systolic_mmhg"), data.get("diastolic_mmhg")
        if sys_ is not None and dia is not None and dia >= sys_:
            return {"diastolic_mmhg": "Diastolic pressure must be below systolic."}
        if (sys_ is None) != (dia is None):
            return {"diastolic_mmhg" if dia is None else "systolic_mmhg": "Enter both systolic and diastolic pressure."}
        return {}


def measure_range(config: ProtocolConfig, code: str) -> InRange:
    m = config.measure(code)
    return InRange(code, m.min, m.max, label=m.label, unit=m.unit)


def vital_signs_rules(config: ProtocolConfig) -> list[Rule]:
    return [*(measure_range(config, code) for code in VITAL_SIGNS), BloodPressureOrder()]


class InfusionDelay:
    """An infusion delayed for infection needs the reason and the days of delay (Design).

    The days move the later visits (they keep their spacing from the delayed infusion), so a delay
    without them would leave the schedule wrong.
    """

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
    """Stop after start; a stop time needs a start time (Design: each infusion over 120 minutes)."""

    stop_after_start = EndAfterStart("start_time", "stop_time", "The infusion must stop after it starts.", strict=True)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if data.get("stop_time") is not None and data.get("start_time") is None:
            return {"start_time": "Give the start time as well."}
        return self.stop_after_start(data)


def infusion_rules(config: ProtocolConfig) -> list[Rule]:
    # The weight sets the dose (Design: 5 mg/kg), so its range is checked wherever it is typed.
    delay = config.measure("infusion_delay_days")
    return [
        measure_range(config, "weight_kg"),
        InfusionTimes(),
        InfusionDelay(),
        InRange("delay_days", 0, delay.max, label=delay.label, unit=delay.unit),
    ]
