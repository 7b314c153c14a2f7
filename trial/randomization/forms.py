from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from trial.core.forms import OneTimeForm
from trial.core.validators import rules_apply
from trial.protocol.selectors import protocol
from trial.randomization.rules import code_break_rules

BLOCK_SIZE_CHOICES = [(2, "2"), (4, "4"), (6, "6"), (8, "8")]


class RandomizeForm(forms.Form):
    baseline_date = forms.DateField(
        initial=date.today,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Design: no later than 1 month after screening.",
    )


class ListGenerateForm(OneTimeForm):
    name = forms.CharField(max_length=100, required=False)
    per_stratum = forms.IntegerField(min_value=2, max_value=2000, initial=40, label="Entries per stratum")
    block_sizes = forms.TypedMultipleChoiceField(
        choices=BLOCK_SIZE_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="One size: fixed blocks. Several: each block's size is drawn at random from them.",
    )
    stratify_by_site = forms.BooleanField(required=False, label="Also stratify by site")
    activate = forms.BooleanField(required=False, initial=True, label="Make this the active list")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = protocol()
        self.fields["block_sizes"].initial = list(config.block_sizes)  # Design: permuted blocks of 4
        self.fields["stratify_by_site"].initial = config.stratify_by_site

    def clean_block_sizes(self) -> list[int]:
        sizes = sorted(self.cleaned_data["block_sizes"])
        unit = sum(protocol().allocation_ratio)
        bad = [s for s in sizes if s % unit]
        if bad:
            raise forms.ValidationError(f"Block sizes must be multiples of {unit} (the allocation ratio total): {bad}.")
        return sizes


# A list for a trial of this size is a few hundred kilobytes at most; a cap keeps a mistaken or
# hostile upload from filling memory and the database (21 CFR 11.10(a), system validation).
LIST_UPLOAD_MAX_BYTES = 2 * 1024 * 1024


class ListUploadForm(OneTimeForm):
    name = forms.CharField(max_length=100)
    file = forms.FileField(
        help_text=(
            "CSV with columns stratum, sequence, block_number, block_size, arm, randomization_number; "
            f"at most {LIST_UPLOAD_MAX_BYTES // (1024 * 1024)} MB."
        )
    )
    stratify_by_site = forms.BooleanField(required=False, label="The list is stratified by site")
    activate = forms.BooleanField(required=False, initial=True, label="Make this the active list")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > LIST_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {LIST_UPLOAD_MAX_BYTES // (1024 * 1024)} MB;"
                " a randomization list is far smaller."
            )
        return upload


class CodeBreakRequestForm(OneTimeForm):
    # Not required here: the rules say it in the record's words (trial.randomization.rules).
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="The clinical reason the arm is needed."
    )
    immediate = forms.BooleanField(required=False, label="Immediate break (cannot wait for a second approval)")
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    # 21 CFR 11.200(a)(1): the requester signs the request by re-entering their password.
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "current-password"}),
        label="Your password",
        help_text="Re-enter your password to sign this request.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, code_break_rules())
        return data


class CodeBreakDecideForm(OneTimeForm):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class CodeBreakReviewForm(OneTimeForm):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
