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


class PowerSimulationForm(OneTimeForm):
    """The power simulation's inputs; bad input is shown again with the reason (nothing is lost)."""

    sizes = forms.CharField(
        label="Sample sizes per arm",
        initial="20, 40, 60, 80",
        help_text="Participants per arm, separated by commas (each from 4 to 1000, up to 8 sizes).",
    )
    crp_threshold_mg_l = forms.FloatField(
        label="Enrol if baseline hs-CRP above (mg/L)", initial=5.0, min_value=0.0, max_value=100.0
    )
    n_sims = forms.IntegerField(label="Simulated trials per size", initial=200, min_value=1, max_value=5000)

    def clean_sizes(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["sizes"].replace(";", ",").split(",") if part.strip()]
        try:
            sizes = sorted({int(part) for part in raw})
        except ValueError:
            raise forms.ValidationError("Sample sizes must be whole numbers, separated by commas.") from None
        if not 1 <= len(sizes) <= 8:
            raise forms.ValidationError("Give between 1 and 8 sample sizes per arm.")
        if sizes[0] < 4 or sizes[-1] > 1000:
            raise forms.ValidationError("Each sample size per arm must be between 4 and 1000.")
        return sizes
