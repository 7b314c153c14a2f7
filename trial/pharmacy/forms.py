from __future__ import annotations

from datetime import date

from django import forms
from django.utils import timezone

from trial.pharmacy.selectors import usable_lots


class PrepareForm(forms.Form):
    weight_kg = forms.DecimalField(min_value=30, max_value=250, decimal_places=1, label="Weight at the visit (kg)")
    lot = forms.ModelChoiceField(queryset=None, required=False, label="Drug lot (active arm only)")
    saline_lot = forms.CharField(max_length=40, label="Saline bag (250 mL) lot")
    second_checker = forms.CharField(max_length=100, label="Second check by (name)")
    checked = forms.BooleanField(label="The second person checked drug, dose, volume and label against this sheet")

    def __init__(self, *args: object, needs_lot: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["lot"].queryset = usable_lots(timezone.localdate())  # type: ignore[attr-defined]
        self.fields["lot"].required = needs_lot
        if not needs_lot:
            self.fields["lot"].widget = forms.HiddenInput()


class DispenseForm(forms.Form):
    dispensed_to = forms.CharField(max_length=100, label="Handed to (nurse)")


class WasteForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class LotReceiveForm(forms.Form):
    lot_number = forms.CharField(max_length=40)
    expiry_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    vials_received = forms.IntegerField(min_value=1)
    received_on = forms.DateField(initial=date.today, widget=forms.DateInput(attrs={"type": "date"}))
    supplier = forms.CharField(max_length=100, required=False)


class WastageForm(forms.Form):
    vials = forms.IntegerField(min_value=1)
    wasted_on = forms.DateField(initial=date.today, widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
