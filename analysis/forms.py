"""The run request form: the kinds offered are the ones the user's role may request."""

from __future__ import annotations

from typing import Any

from django import forms

from analysis.models import AnalysisRun
from trial.core.forms import OneTimeForm


class AnalysisRunRequestForm(OneTimeForm):
    kind = forms.ChoiceField(label="Analysis")

    def __init__(self, *args: Any, allowed: list[AnalysisRun.Kind], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [(k.value, k.label) for k in allowed]
