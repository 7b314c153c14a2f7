"""Rules of the participant records: participant, consent, screening, end of study, baseline window.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators). Ranges come from
the protocol file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from trial.core.validators import InRange, NotInFuture, OneOf, Required, Rule
from trial.participants.eligibility import age_on
from trial.protocol.config import ProtocolConfig


class PlausibleAge:
    """The date of birth gives a plausible age today ([measures.age_years]); eligibility is judged at screening."""

    def __init__(self, config: ProtocolConfig, field: str = "date_of_birth", *, today: date | None = None) -> None:
        m = config.measure("age_years")
        self.field, self.today = field, today
        self.range = InRange(field, m.min, m.max, label=m.label, unit=m.unit)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        born, today = data.get(self.field), self.today or date.today()
        if not isinstance(born, date) or born > today:
            return {}  # a date in the future has its own message
        return self.range({self.field: age_on(born, today)})


def participant_rules(config: ProtocolConfig) -> list[Rule]:
    return [NotInFuture("date_of_birth"), PlausibleAge(config)]


def consent_rules() -> list[Rule]:
    # Eligibility, Inclusion: written informed consent.
    return [
        NotInFuture("consent_date"),
        Required("participant_signed", "Written informed consent must be signed by the participant."),
    ]


def screening_ranges(config: ProtocolConfig) -> list[InRange]:
    """The measures of the Eligibility section, each within its range in the protocol file (Instruments)."""
    crp = config.analyte("hs_crp")
    ranges = [InRange("screening_crp_mg_l", crp.min, crp.max, label=f"Screening {crp.label}", unit=crp.unit)]
    for code in ("qids_sr", "mmse", "mgh_s"):
        scale = config.scales[code]
        ranges.append(InRange(code, scale.min, scale.max, label=scale.name))
    item3 = next(i for i in config.hamd_items if i.number == 3)
    ranges.append(InRange("hamd_item3", 0, item3.max, label=f"HAM-D item 3 ({item3.name})"))
    for code in ("height_cm", "weight_kg"):
        m = config.measure(code)
        ranges.append(InRange(code, m.min, m.max, label=m.label, unit=m.unit))
    return ranges


def screening_rules(config: ProtocolConfig) -> list[Rule]:
    return [NotInFuture("screening_date"), *screening_ranges(config)]


class OutcomeMatchesReason:
    """End of study: 'completed' goes with the reason 'completed', a withdrawal with any other reason."""

    def __init__(self, reason_field: str = "reason") -> None:
        self.reason_field = reason_field

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        outcome, reason = data.get("outcome"), data.get(self.reason_field)
        if not outcome or not reason:
            return {}
        if outcome == "completed" and reason != "completed":
            return {self.reason_field: "A participant who completed the study has the reason 'completed'."}
        if outcome == "withdrawn" and reason == "completed":
            return {self.reason_field: "Give the reason for withdrawal."}
        return {}


def end_of_study_rules(config: ProtocolConfig, *, reason_field: str = "reason") -> list[Rule]:
    """The end-of-study form names its reason `end_reason` (`reason` is the reason for change)."""
    return [
        OneOf(reason_field, config.end_of_study_reasons, label="Reason"),
        OutcomeMatchesReason(reason_field),
        NotInFuture("end_date"),
    ]


class EveryCriterionAnswered:
    """Each attested criterion must be answered yes or no before screening is saved.

    Left blank, eligibility would count the criterion as unmet and record a screen failure the
    coordinator did not mean to record.
    """

    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = tuple(codes)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        return {code: "Answer yes or no." for code in self.codes if data.get(code) is None}


class BaselineWithinScreeningWindow:
    """Baseline no later than 1 month after screening, and not before it (Design).

    The month is the protocol file's `baseline_max_days_after_screening`.
    """

    def __init__(self, *, screening_date: date | None, config: ProtocolConfig, field: str = "baseline_date") -> None:
        self.screening_date = screening_date
        self.max_days = config.baseline_max_days_after_screening
        self.field = field

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        baseline = data.get(self.field)
        if baseline is None or self.screening_date is None:
            return {}
        latest = self.screening_date + timedelta(days=self.max_days)
        if baseline < self.screening_date:
            return {self.field: f"Baseline cannot be before screening ({self.screening_date:%d %b %Y})."}
        if baseline > latest:
            return {
                self.field: f"Baseline must be within {self.max_days} days of screening "
                f"({self.screening_date:%d %b %Y}),"
                f" so on or before {latest:%d %b %Y}. After that the participant must be re-screened."
            }
        return {}
