"""The base every record form of Stratum builds on, and the widgets they share.

Forms validate what the user typed and keep it: a form with errors re-renders with every value and
a message next to each bad field. They never write; views hand the cleaned data to a service.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe

from trial.core.validators import ReasonForChangeRequired, Rule, SingleLine, rules_apply


class HintedInputMixin:
    """A text input with its expected format written beside it, and announced with it.

    Dates are typed in ISO 8601 (YYYY-MM-DD) whatever the browser's locale: a native date input shows
    mm/dd/yyyy or dd/mm/yyyy depending on the machine, and 02/12 read the wrong way is a wrong record
    (ICH E6(R3) 2.12: data attributable, legible, accurate; one unambiguous format for entry).
    """

    hint = ""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(name, value, attrs)  # type: ignore[misc]
        widget_attrs = context["widget"]["attrs"]
        if widget_attrs.get("id"):
            widget_attrs["aria-describedby"] = f"{widget_attrs['id']}-hint"
        return context

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        html = super().render(name, value, attrs, renderer)  # type: ignore[misc]
        input_id = (attrs or {}).get("id") or self.attrs.get("id")  # type: ignore[attr-defined]
        hint_id = f' id="{input_id}-hint"' if input_id else ""
        return mark_safe(f'{html} <span class="date-hint"{hint_id}>{self.hint}</span>')  # noqa: S308 (constants)


class IsoDateInput(HintedInputMixin, forms.DateInput):
    input_type = "text"
    hint = "YYYY-MM-DD"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"inputmode": "numeric", "placeholder": "YYYY-MM-DD", "autocomplete": "off", "size": "11"}
        super().__init__(attrs=base | (attrs or {}), format="%Y-%m-%d")


class IsoDateTimeInput(HintedInputMixin, forms.DateTimeInput):
    # Times are entered and stored in the trial's time zone (settings.TIME_ZONE, UTC): the hint says so.
    input_type = "text"
    hint = "YYYY-MM-DD HH:MM, UTC"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"placeholder": "YYYY-MM-DD HH:MM", "autocomplete": "off", "size": "17"}
        super().__init__(attrs=base | (attrs or {}), format="%Y-%m-%d %H:%M")


DATE = IsoDateInput()
DATETIME = IsoDateTimeInput()
DATETIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
YES_NO = [("yes", "Yes"), ("no", "No")]


def number(step: str = "any", **attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": step, "inputmode": "decimal", **attrs})


def yes_no_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )


def yes_no_initial(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def submission_token_field() -> forms.RegexField:
    """A form's one-time token (trial.core.views.submit_once): a double click or a resent POST
    brings the same token back and shows what the first submission made."""
    return forms.RegexField(regex=r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput, max_length=32)


class OneTimeForm(forms.Form):
    """A form that creates something once per page view: an unbound form gets a fresh token.

    ICH E6(R3) data integrity (one event, one record): a double click on "Record wastage" or
    "Request" must not make a second wastage, code break, list or analysis run.
    """

    submission_token = submission_token_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("submission_token"):
            self.initial = {**self.initial, "submission_token": uuid.uuid4().hex}


class RecordForm(forms.Form):
    """A form for one audited record: carries its version and, when editing, a reason for change.

    Subclasses list their rules in `get_rules()`: the same rule objects the record's model applies
    in its clean(), so the form and the model never disagree.
    """

    version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)
    # One-time token: a repeated POST of the same form shows the record it saved (RecordFormView).
    submission_token = submission_token_field()
    reason = forms.CharField(
        required=False,
        label="Reason for change",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when you change a saved record; it goes into the audit trail.",
    )

    META_FIELDS: tuple[str, ...] = ("version", "reason", "submission_token")
    # Values the rules read that are not typed (RecordFormView.form_facts): a participant's timeline.
    facts: Mapping[str, Any] = {}

    def get_rules(self) -> list[Rule]:
        return [ReasonForChangeRequired(), SingleLine(*self.single_line_fields())]

    def single_line_fields(self) -> list[str]:
        """Text fields typed on one line (not a text area): no control characters in them."""
        return [
            n
            for n, f in self.fields.items()
            if isinstance(f, forms.CharField) and not isinstance(f.widget, forms.Textarea | forms.HiddenInput)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, self.get_rules(), record=self.facts)
        return data

    @property
    def editing(self) -> bool:
        value = self.data.get("version") if self.is_bound else self.initial.get("version")
        return bool(value)

    def record_fields(self) -> list[str]:
        return [n for n in self.fields if n not in self.META_FIELDS]

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        """(label, saved value, the value this user typed) for each field the two versions share."""
        data = getattr(self, "cleaned_data", {})
        return [
            (str(self[n].label), getattr(current, n), data.get(n, self.data.get(n)))
            for n in self.record_fields()
            if hasattr(current, n)
        ]


def apply_service_errors(form: forms.Form, exc: ValidationError, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's ValidationError next to the form's fields (or at the top when no field matches)."""
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            target = field_map.get(name, name)
            for error in errors:
                for message in error.messages:
                    if target in form.fields and target not in form.errors:
                        form.add_error(target, message)
                    elif target in form.fields:
                        form.errors[target].append(message)
                    else:
                        form.add_error(None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)
