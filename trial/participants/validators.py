"""Cross-field rules of the participant forms, as small classes tested without HTTP.

A rule takes a form's cleaned data and returns {field: message}; `rules_apply` puts each message
next to its field (or at the top of the form for "__all__"). Single-field ranges live on the form
fields; rules that need the database (statuses, uniqueness) stay in the services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, Protocol

from django import forms

ALL = "__all__"


class FormRule(Protocol):
    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]: ...


def rules_apply(form: forms.Form, rules: Iterable[FormRule]) -> None:
    for rule in rules:
        for field, message in rule(form.cleaned_data).items():
            form.add_error(field if field in form.fields else None, message)


class ReasonForChangeRequired:
    """Editing a saved record needs a reason for change (21 CFR Part 11 audit trail).

    A form carries the version it was loaded from; a version means the record was saved before.
    """

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if data.get("version") and not (data.get("reason") or "").strip():
            return {"reason": "This record was saved before: give a reason for the change."}
        return {}


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
    """Baseline no later than 1 month after screening, and not before it (protocol: Design)."""

    def __init__(self, *, screening_date: date | None, max_days: int) -> None:
        self.screening_date = screening_date
        self.max_days = max_days

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        baseline = data.get("baseline_date")
        if baseline is None or self.screening_date is None:
            return {}
        latest = self.screening_date + timedelta(days=self.max_days)
        if baseline < self.screening_date:
            return {"baseline_date": f"Baseline cannot be before screening ({self.screening_date:%d %b %Y})."}
        if baseline > latest:
            return {
                "baseline_date": f"Baseline must be within {self.max_days} days of screening "
                f"({self.screening_date:%d %b %Y}),"
                f" so on or before {latest:%d %b %Y}. After that the participant must be re-screened."
            }
        return {}


class NotInFuture:
    """Clinical dates are recorded after the fact."""

    def __init__(self, *fields: str, today: date | None = None) -> None:
        self.fields = fields
        self.today = today

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        today = self.today or date.today()
        return {f: "This date cannot be in the future." for f in self.fields if data.get(f) and data[f] > today}


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


class EndAfterStart:
    def __init__(self, start: str, end: str, message: str) -> None:
        self.start, self.end, self.message = start, end, message

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        a, b = data.get(self.start), data.get(self.end)
        if a is not None and b is not None and b < a:
            return {self.end: self.message}
        return {}
