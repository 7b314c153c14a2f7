"""Validators every app shares, and the shape of a rule.

A rule takes a record's values and returns {field: message}. The values are a form's cleaned data
or a model instance seen through `InstanceValues`, so one rule object serves both: the model's
clean() applies it with `rules_raise`, the form's clean() with `rules_apply`, and the two say the
same thing next to the same field. Each app keeps its own rules, and the list each record applies,
in its `rules.py`; the generic ones live here.

Rules that need the database (statuses, uniqueness) stay in the services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

ALL = "__all__"

T = TypeVar("T")
_HELD: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("stratum_reads_held", default=None)


@contextmanager
def reads_held() -> Iterator[None]:
    """While many records are validated together, and nothing is written in between, a value several
    of them read from the database (their participant's timeline) is read once, not once per record.
    Only around a validation loop: a write inside it could make a held value stale."""
    token = _HELD.set({})
    try:
        yield
    finally:
        _HELD.reset(token)


def held_read(key: tuple[Any, ...], read: Callable[[], T]) -> T:
    """`read()`, or its value already read under the same `reads_held()` (outside one: always read)."""
    memo = _HELD.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[no-any-return]  # stored by the same key's read


# The largest value a PositiveIntegerField holds on every database we run on (PostgreSQL's integer).
INT32_MAX = 2_147_483_647


def stored_range(lo: float, hi: float) -> list[MinValueValidator | MaxValueValidator]:
    """The explicit range of a stored number: what the quantity can physically be (a scale's own
    limits, a weight no person has), always at least as wide as the protocol file's plausible range,
    which the record's rules apply with their own message. Without it SQLite stores 2^31 months
    where PostgreSQL refuses it, and the same entry means different things on different databases
    (ICH E6(R3) data integrity; 21 CFR 11.10(a) validation: accurate and consistent records)."""
    message = f"Must be from {lo:g} to {hi:g}."
    return [MinValueValidator(lo, message=message), MaxValueValidator(hi, message=message)]


class Rule(Protocol):
    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]: ...


class InstanceValues(Mapping[str, Any]):
    """A model instance read as a mapping of its attributes, so a rule reads it like cleaned data."""

    def __init__(self, instance: models.Model) -> None:
        self._instance = instance
        # Read once per validation: several rules ask for the same derived value (the participant's
        # timeline is a query), and the instance does not change while its rules run.
        self._read: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._read:
            try:
                self._read[key] = getattr(self._instance, key)
            except AttributeError:  # includes an unset related object
                raise KeyError(key) from None
        return self._read[key]

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in self._instance._meta.concrete_fields)

    def __len__(self) -> int:
        return len(self._instance._meta.concrete_fields)


def rules_errors(data: Mapping[str, Any], rules: Iterable[Rule]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for rule in rules:
        for field, message in rule(data).items():
            # The same rule may reach a form twice (its base's and its record's list): say it once.
            if message not in errors.setdefault(field, []):
                errors[field].append(message)
    return errors


def rules_apply(form: forms.Form, rules: Iterable[Rule], *, record: Mapping[str, Any] | None = None) -> None:
    """Put each rule's message next to its field on the form (at the top when the form has no such field).

    `record`: values the saved record will have that the user does not type (the status an action
    sets). A field that already failed its own check (not a number, required) keeps that one message.
    """
    failed = set(form.errors)
    for field, messages in rules_errors({**(record or {}), **form.cleaned_data}, rules).items():
        if field in failed:
            continue
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def rules_raise(instance: models.Model, rules: Iterable[Rule]) -> None:
    """From a model's clean(): raise every rule's message, keyed by its field."""
    errors = rules_errors(InstanceValues(instance), rules)
    if errors:
        raise ValidationError(errors)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _plain(value: Any) -> str:
    """A number as typed, whatever its type: 600, 600.0 and Decimal('600.00') all read '600'."""
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)


class SingleLine:
    """A one-line field has no control characters: a line break or a tab in an event term would end
    up in an e-mail header (refused) or break an export's rows."""

    message = "Control characters (a line break, a tab) are not allowed in this one-line field."

    def __init__(self, *fields: str) -> None:
        self.fields = fields

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        return {
            f: self.message
            for f in self.fields
            if isinstance(value := data.get(f), str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
        }


class ReasonForChangeRequired:
    """Editing a saved record needs a reason for change (21 CFR Part 11 audit trail).

    A form carries the version it was loaded from; a version means the record was saved before.
    """

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if data.get("version") and _blank(data.get("reason")):
            return {"reason": "This record was saved before: give a reason for the change."}
        return {}


class NotInFuture:
    """Clinical dates are recorded after the fact (ICH E6 source data: entered when it happened)."""

    message = "This date cannot be in the future."

    def __init__(self, *fields: str, today: date | None = None) -> None:
        self.fields = fields
        self.today = today

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        today = self.today or date.today()
        return {f: self.message for f in self.fields if (day := _day(data.get(f))) is not None and day > today}


class NotBefore:
    """A date no earlier than a fixed first day: the trial's own earliest plausible date (a record
    dated 0001-01-01 or 1900-01-01 is a typing error, never a fact of this trial)."""

    def __init__(self, *fields: str, earliest: date, what: str = "the trial's first records") -> None:
        self.fields, self.earliest, self.what = fields, earliest, what

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        message = f"This date is before {self.what} ({self.earliest:%d %b %Y}): check the year."
        return {f: message for f in self.fields if (day := _day(data.get(f))) is not None and day < self.earliest}


class EndAfterStart:
    """The end (date or time) is not before the start; `strict` also refuses the same instant."""

    def __init__(self, start: str, end: str, message: str, *, strict: bool = False) -> None:
        self.start, self.end, self.message, self.strict = start, end, message, strict

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        a, b = data.get(self.start), data.get(self.end)
        if a is None or b is None:
            return {}
        if b < a or (self.strict and b == a):
            return {self.end: self.message}
        return {}


class InRange:
    """A number within [lo, hi], inclusive: a protocol range or a plausibility range.

    `message` may use {label}, {lo}, {hi}, {unit} and {value}; the default quotes the range and the
    value typed, so the user sees what to correct.
    """

    default = "{label} must be between {lo} and {hi}{unit}; {value} is out of range."

    def __init__(
        self, field: str, lo: float, hi: float, *, label: str, unit: str = "", message: str | None = None
    ) -> None:
        self.field, self.lo, self.hi, self.label, self.unit = field, lo, hi, label, unit
        self.message = message or self.default

    @property
    def help_text(self) -> str:
        return f"{self.lo:g} to {self.hi:g}{' ' + self.unit if self.unit else ''}"

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        value = data.get(self.field)
        if value is None or _blank(value) or isinstance(value, bool):
            return {}
        try:
            number = float(value)
        except (TypeError, ValueError):
            return {}  # the field's own validation reports what is not a number
        if self.lo <= number <= self.hi:
            return {}
        text = self.message.format(
            label=self.label,
            lo=f"{self.lo:g}",
            hi=f"{self.hi:g}",
            unit=f" {self.unit}" if self.unit else "",
            value=_plain(value),
        )
        return {self.field: text}


class Required:
    """A field that must be filled in, said in the words of the record (not Django's generic message)."""

    def __init__(self, field: str, message: str, *, when: Mapping[str, Any] | None = None) -> None:
        self.field, self.message = field, message
        self.when = dict(when or {})  # only when every other field here has this value

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if self.field not in data or any(data.get(k) != v for k, v in self.when.items()):
            return {}  # a form that does not ask for the field leaves it to the form that does
        value = data.get(self.field)
        if _blank(value) or value is False:
            return {self.field: self.message}
        return {}


class OneOf:
    """A value from a list the protocol file gives (for a field that is free text in the database)."""

    def __init__(self, field: str, allowed: Iterable[str], *, label: str) -> None:
        self.field, self.allowed, self.label = field, tuple(allowed), label

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        value = data.get(self.field)
        if _blank(value) or value in self.allowed:
            return {}
        return {self.field: f"{self.label} must be one of: {', '.join(self.allowed)}."}
