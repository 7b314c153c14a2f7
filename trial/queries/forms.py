"""Forms of the data-query pages."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from trial.core.forms import OneTimeForm
from trial.queries.services import TEXT_REQUIRED


class QueryOpenForm(OneTimeForm):
    target = forms.ChoiceField(label="Field", choices=[])
    text = forms.CharField(
        label="Question",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write the question for the site."},
    )

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["target"]).choices = [("", "---"), *targets]

    def form_and_field(self) -> tuple[str, str]:
        form, _, field = self.cleaned_data["target"].partition(":")
        return form, field


class QueryStepForm(OneTimeForm):
    """Answer, close or re-open: a message and the version the user saw."""

    ACTIONS = ("answer", "close", "reopen")

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], widget=forms.HiddenInput)
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action in ("answer", "reopen") and not (data.get("text") or "").strip():
            self.add_error("text", TEXT_REQUIRED[action])
        return data

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        return [("Status", current.get_status_display(), self.cleaned_data.get("action"))]
