"""Two-factor authentication (TOTP with single-use backup codes, django-otp) for the accounts whose
password alone must not open the trial: the unblinded roles, the administrator and every superuser.

21 CFR 11.300 and 11.10(d) (access limited to authorised individuals), ICH E6(R3) (the allocation is
known only to those who must know it): a stolen password of an unblinded account reveals every arm,
so it is not enough on its own. Required when `STRATUM_REQUIRE_TWO_FACTOR` is on (the default,
and production); the demo switches it off and its login page says so.

After the password, `TwoFactorRequiredMiddleware` sends such a user to enrol (QR code, then a first
code, then the backup codes, shown once) or to enter a code, and lets nothing else through.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial import blinding
from trial.core.access_log import access_event_record, client_ip
from trial.core.models import AccessEvent, User
from trial.core.roles import Role, user_roles

BACKUP_CODE_COUNT = 10
# Pages a user part-way through logging in may reach: the second step itself and the way out.
EXEMPT_URL_NAMES = frozenset({"login", "logout", "two_factor_verify", "two_factor_enrol", "healthz"})


def two_factor_required(user: Any) -> bool:
    if not settings.STRATUM_REQUIRE_TWO_FACTOR or user is None or not user.is_authenticated:
        return False
    return bool(user.is_superuser or blinding.is_unblinded_role(user) or Role.ADMINISTRATOR in user_roles(user))


def two_factor_verified(request: HttpRequest) -> bool:
    is_verified: Callable[[], bool] | None = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class TwoFactorRequiredMiddleware:
    """After django_otp's OTPMiddleware. A user who needs a second factor and has not given one in
    this session reaches only the exempt pages; the API answers 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        user = request.user
        if not two_factor_required(user) or two_factor_verified(request):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in EXEMPT_URL_NAMES:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Two-factor authentication is required for this account."}, status=403)
        step = "two_factor_verify" if user_has_device(user) else "two_factor_enrol"
        return redirect(f"{reverse(step)}?next={quote(request.get_full_path())}")


# --- Services ---------------------------------------------------------------------------------


def two_factor_device_pending(*, user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator, made on first visit to the enrolment page."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice(user=user, name="Authenticator app", confirmed=False)
        device.save()
    return device


def qr_code_data_uri(device: TOTPDevice) -> str:
    """An SVG QR code of the otpauth:// URL, inline as a data: URI (the CSP allows data: images, and
    the secret never goes to another server)."""
    import segno

    out = io.BytesIO()
    segno.make(device.config_url).save(out, kind="svg", scale=5)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@transaction.atomic
def two_factor_enrol_confirm(*, request: HttpRequest, user: User, token: str) -> list[str] | None:
    """Confirm the pending authenticator with a first code. Returns the new backup codes (shown
    once), or None when the code is wrong. Any earlier authenticator and backup codes are replaced."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None or not device.verify_token(token):
        access_event_record(kind=AccessEvent.Kind.TWO_FACTOR_FAILED, user=user, ip_address=client_ip(request))
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save()
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice(user=user, name="Backup codes", confirmed=True)
    backup.save()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    for code in codes:
        StaticToken(device=backup, token=code).save()
    otp_login(request, device)
    access_event_record(kind=AccessEvent.Kind.TWO_FACTOR_ENROLLED, user=user, ip_address=client_ip(request))
    return codes


@transaction.atomic
def two_factor_verify(*, request: HttpRequest, user: User, token: str) -> bool:
    """Check a code from the authenticator or a backup code (each backup code works once). Devices
    throttle repeated failures themselves (django-otp), and every failure is in the access log."""
    token = token.strip().replace(" ", "")
    for device in devices_for_user(user, for_verify=True):
        if device.verify_token(token):
            otp_login(request, device)
            return True
    access_event_record(kind=AccessEvent.Kind.TWO_FACTOR_FAILED, user=user, ip_address=client_ip(request))
    return False


@transaction.atomic
def two_factor_reset(*, user: User, reason: str) -> int:
    """Remove every authenticator and backup code of the user (loss of the phone)."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    access_event_record(kind=AccessEvent.Kind.TWO_FACTOR_RESET, target=f"user {user.get_username()}", detail=reason)
    return removed
