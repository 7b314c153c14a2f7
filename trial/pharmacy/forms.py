"""Forms of the pharmacy pages. Each applies the same rules as its record's model (trial.pharmacy.rules)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.utils import timezone

from trial.core.forms import DATE, OneTimeForm, number
from trial.core.validators import rules_apply
from trial.pharmacy.models import DrugLot
from trial.pharmacy.rules import drug_lot_rules, preparation_rules, wastage_rules
from trial.pharmacy.selectors import usable_lots
from trial.protocol.selectors import protocol


class PrepareForm(forms.Form):
    weight_kg = forms.DecimalField(decimal_places=1, label="Weight at the visit (kg)", widget=number())
    lot: forms.ModelChoiceField[DrugLot] = forms.ModelChoiceField(
        queryset=DrugLot.objects.none(), required=False, label="Drug lot (active arm only)"
    )
    # Not required here: the rules say it in the record's words.
    saline_lot = forms.CharField(max_length=40, required=False, label="Saline bag (250 mL) lot")
    # 21 CFR 11.200(a)(1): the second pharmacist signs the check with their own user name and password,
    # at the preparer's screen; the password is never shown back (render_value=False).
    second_checker = forms.CharField(
        max_length=150,
        required=False,
        label="Second check by (the second pharmacist's user name)",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    second_checker_password = forms.CharField(
        required=False,
        label="Second pharmacist's password",
        help_text="The second pharmacist types their own password to sign the check.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    checked = forms.BooleanField(label="The second person checked drug, dose, volume and label against this sheet")

    def __init__(self, *args: Any, needs_lot: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lot = cast("forms.ModelChoiceField[DrugLot]", self.fields["lot"])
        lot.queryset = usable_lots(timezone.localdate())
        lot.required = needs_lot
        if not needs_lot:
            self.fields["lot"].widget = forms.HiddenInput()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, preparation_rules(protocol()))
        return data


class DispenseForm(forms.Form):
    dispensed_to = forms.CharField(max_length=100, required=False, label="Handed to (nurse)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, preparation_rules(protocol()), record={"status": "dispensed"})
        return data


class WasteForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class LotReceiveForm(OneTimeForm):
    lot_number = forms.CharField(max_length=40)
    expiry_date = forms.DateField(widget=DATE)
    vials_received = forms.IntegerField()
    received_on = forms.DateField(initial=date.today, widget=DATE)
    supplier = forms.CharField(max_length=100, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, drug_lot_rules(protocol()))
        return data

    def record_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "submission_token"}


class WastageForm(OneTimeForm):
    vials = forms.IntegerField()
    wasted_on = forms.DateField(initial=date.today, widget=DATE)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, lot: DrugLot | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lot = lot

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, wastage_rules(protocol()), record={"lot": self.lot})
        return data

    def record_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "submission_token"}
