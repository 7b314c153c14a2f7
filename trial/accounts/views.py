"""The access audit log, for the data manager and superusers (21 CFR 11.10(e)), and the two-factor
login step and enrolment (21 CFR 11.300; trial.accounts.two_factor)."""

from __future__ import annotations

import base64

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_otp import user_has_device

from trial.access import Capability, CapabilityRequiredMixin
from trial.accounts.two_factor import (
    qr_code_data_uri,
    two_factor_device_pending,
    two_factor_enrol_confirm,
    two_factor_required,
    two_factor_verify,
)
from trial.core.access_log import access_events
from trial.core.models import AccessEvent, User


class AccessLogView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_ACCESS_LOG
    per_page = 100

    def get(self, request: HttpRequest) -> HttpResponse:
        kind = request.GET.get("kind", "")
        kind = kind if kind in AccessEvent.Kind.values else ""
        username = request.GET.get("user", "").strip()[:150]
        page = Paginator(access_events(kind=kind, username=username), self.per_page).get_page(request.GET.get("page"))
        context = {"page": page, "kinds": AccessEvent.Kind.choices, "kind": kind, "username": username}
        return render(request, "accounts/access_log.html", context)


class TwoFactorCodeForm(forms.Form):
    token = forms.CharField(
        label="Code", max_length=16, widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True})
    )


def _user(request: HttpRequest) -> User:
    # LoginRequiredMixin has let only a logged-in user through.
    assert isinstance(request.user, User)
    return request.user


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("dashboard")


class TwoFactorVerifyView(LoginRequiredMixin, View):
    """The second login step: a code from the authenticator app, or one backup code."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not user_has_device(request.user):
            return redirect("two_factor_enrol")
        return self.render(request, TwoFactorCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid():
            if two_factor_verify(request=request, user=_user(request), token=form.cleaned_data["token"]):
                return redirect(_next_url(request))
            form.add_error("token", "That code is not valid. Use the current code from your app, or a backup code.")
        return self.render(request, form)

    def render(self, request: HttpRequest, form: forms.Form) -> HttpResponse:
        return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)})


class TwoFactorEnrolView(LoginRequiredMixin, View):
    """Set up an authenticator app: scan the QR code, enter the first code, keep the backup codes."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, TwoFactorCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid():
            codes = two_factor_enrol_confirm(request=request, user=_user(request), token=form.cleaned_data["token"])
            if codes is not None:
                context = {"codes": codes, "next": _next_url(request)}
                return render(request, "accounts/two_factor_backup_codes.html", context)
            form.add_error("token", "That code is not valid. Check the time on your phone and try the current code.")
        return self.render(request, form)

    def render(self, request: HttpRequest, form: forms.Form) -> HttpResponse:
        device = two_factor_device_pending(user=_user(request))
        context = {
            "form": form,
            "qr_code": qr_code_data_uri(device),
            "secret": base64.b32encode(device.bin_key).decode(),
            "next": _next_url(request),
            "required": two_factor_required(request.user),
        }
        return render(request, "accounts/two_factor_enrol.html", context)
