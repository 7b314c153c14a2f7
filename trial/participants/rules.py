"""Rules of the participant records: participant, consent, screening, end of study, baseline window.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators). Ranges come from
the protocol file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from trial.core.validators import InRange, NotBefore, NotInFuture, OneOf, Required, Rule
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


@dataclass(frozen=True)
class Timeline:
    """The dates of one participant's course that bound every other date of theirs.

    A rule reads it as the value `timeline`: a record's model gives its participant's
    (`Participant.timeline()`), a form is given it by its page. None when there is no participant yet.
    """

    date_of_birth: date | None = None
    screening_date: date | None = None
    consent_date: date | None = None
    screen_failed: bool = False
    ended_on: date | None = None  # end of study (completed or withdrawn)
    ended_how: str = ""


def _timeline(data: Mapping[str, Any]) -> Timeline | None:
    value = data.get("timeline")
    return value if isinstance(value, Timeline) else None


class OnOrAfterScreening:
    """A date of the participant's course is not before their screening (consent, deviation, end of study)."""

    def __init__(self, *fields: str) -> None:
        self.fields = fields

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        # The timeline costs a query (a record's is read from the database): only when a date is entered.
        if not any(isinstance(data.get(f), date) for f in self.fields):
            return {}
        t = _timeline(data)
        if t is None or t.screening_date is None:
            return {}
        return {
            f: f"This date is before the participant's screening ({t.screening_date:%d %b %Y})."
            for f in self.fields
            if isinstance(day := data.get(f), date) and day < t.screening_date
        }


class NotAfterEndOfStudy:
    """Consent is not recorded after the end of study (completed or withdrawn)."""

    def __init__(self, *fields: str) -> None:
        self.fields = fields

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        # As OnOrAfterScreening: the timeline only when there is a date to compare with it.
        if not any(isinstance(data.get(f), date) for f in self.fields):
            return {}
        t = _timeline(data)
        if t is None or t.ended_on is None:
            return {}
        return {
            f: f"This date is after the participant's end of study ({t.ended_on:%d %b %Y}, {t.ended_how})."
            for f in self.fields
            if isinstance(day := data.get(f), date) and day > t.ended_on
        }


class SafetyCollectionWindow:
    """When adverse events and concomitant medications are collected (protocol file [safety]):
    from written informed consent; for a screen failure, until the screen failure; for a participant
    who ended the study, until `followup_days` after the end of study.

    `before_consent_allowed`: a medication may have started long before consent (it is concomitant
    because it continues); it still cannot start before the participant was born. An adverse event
    starts on or after consent (an earlier one is medical history).
    """

    def __init__(self, field: str, *, what: str, followup_days: int, before_consent_allowed: bool = False) -> None:
        self.field, self.what, self.followup_days = field, what, followup_days
        self.before_consent_allowed = before_consent_allowed

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        day = data.get(self.field)
        if not isinstance(day, date):
            return {}  # no date, nothing to bound: the timeline (a query) is not read
        t = _timeline(data)
        if t is None:
            return {}
        if t.consent_date is None:
            return {self.field: f"{self.what} are recorded from written informed consent on; none is recorded yet."}
        if t.date_of_birth is not None and day < t.date_of_birth:
            return {self.field: f"This date is before the participant's date of birth ({t.date_of_birth:%d %b %Y})."}
        if not self.before_consent_allowed and day < t.consent_date:
            return {
                self.field: f"{self.what} are collected from consent ({t.consent_date:%d %b %Y}) on; "
                "an earlier event belongs in the medical history."
            }
        if t.screen_failed and t.screening_date is not None and day > t.screening_date:
            return {
                self.field: f"Collection ended at the screen failure ({t.screening_date:%d %b %Y}): "
                f"{self.what.lower()} after it are not recorded."
            }
        if t.ended_on is not None and (day - t.ended_on).days > self.followup_days:
            last = t.ended_on + timedelta(days=self.followup_days)
            return {
                self.field: f"Collection ended {self.followup_days} days after the end of study "
                f"({t.ended_on:%d %b %Y}), on {last:%d %b %Y}."
            }
        return {}


def participant_rules(config: ProtocolConfig) -> list[Rule]:
    return [NotInFuture("date_of_birth"), PlausibleAge(config)]


def consent_rules(config: ProtocolConfig) -> list[Rule]:
    # Eligibility, Inclusion: written informed consent.
    return [
        NotInFuture("consent_date"),
        NotBefore("consent_date", earliest=config.earliest_date),
        OnOrAfterScreening("consent_date"),
        NotAfterEndOfStudy("consent_date"),
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
    episode = config.measure("episode_duration_months")
    ranges.append(InRange("episode_duration_months", episode.min, episode.max, label=episode.label, unit=episode.unit))
    return ranges


def screening_rules(config: ProtocolConfig) -> list[Rule]:
    return [
        NotInFuture("screening_date"),
        NotBefore("screening_date", earliest=config.earliest_date),
        *screening_ranges(config),
    ]


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
        NotBefore("end_date", earliest=config.earliest_date),
        OnOrAfterScreening("end_date"),
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
