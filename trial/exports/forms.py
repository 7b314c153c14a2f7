from __future__ import annotations

from typing import Any

from django import forms

from trial.core.forms import OneTimeForm
from trial.exports.datasets import datasets_for, may_include_arm
from trial.exports.formats import FORMATS


class ExportForm(OneTimeForm):
    """Datasets offered are the ones this user may export; the arm box only to an unblinded role.
    One job per page view: a double click on "Export" does not queue the bundle twice."""

    datasets = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, required=True)
    format = forms.ChoiceField(choices=list(FORMATS.items()), widget=forms.RadioSelect, initial="csv")
    include_arm = forms.BooleanField(
        required=False, label="Include the treatment arm (recorded in the access log as an unblinding)"
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        datasets = self.fields["datasets"]
        assert isinstance(datasets, forms.MultipleChoiceField)
        datasets.choices = [(d.code, f"{d.code}: {d.label}") for d in datasets_for(user)]
        datasets.initial = [d.code for d in datasets_for(user)]
        if not may_include_arm(user):
            del self.fields["include_arm"]


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="What is the token for?")
