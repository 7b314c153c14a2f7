from __future__ import annotations

from django import forms


class UnitForm(forms.Form):
    """Which form of the casebook: its visit (empty for a participant-level form) and its code."""

    visit_id = forms.IntegerField(required=False)
    form = forms.CharField(max_length=30)
    field = forms.CharField(max_length=60, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class SignForm(forms.Form):
    """21 CFR 11.200(a)(1): both components of the signature, entered at each signing."""

    username = forms.CharField(label="User name", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput)
