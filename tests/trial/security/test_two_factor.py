"""Two-factor authentication for unblinded roles, administrators and superusers, as production has
it (21 CFR 11.300); the demo relaxes it and its login page says so."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial.core.models import AccessEvent, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_factor_on(settings: Any) -> None:
    settings.STRATUM_REQUIRE_TWO_FACTOR = True


def _current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _enrol(client: Any) -> list[str]:
    client.get(reverse("two_factor_enrol"))
    device = TOTPDevice.objects.get(confirmed=False)
    page = client.post(reverse("two_factor_enrol"), {"token": _current_code(device)}).content.decode()
    return re.findall(r"<li><code>(\w+)</code></li>", page)


def test_production_requires_it(monkeypatch: Any) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("DATABASE_URL", "postgres://stratum@db:5432/stratum")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://redis:6379/0")
    production = importlib.import_module("trial.settings.production")
    assert production.STRATUM_REQUIRE_TWO_FACTOR is True
    assert importlib.import_module("trial.settings.local").STRATUM_REQUIRE_TWO_FACTOR is False


@pytest.mark.parametrize("who", ["pharmacist", "unblinded", "dsmb", "admin"])
def test_an_account_that_needs_it_gets_nothing_before_enrolling(login: Any, two_factor_on: None, who: str) -> None:
    client = login(who)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("two_factor_enrol"))
    assert client.get("/api/randomization/allocations/").status_code == 403
    assert client.get("/admin/").status_code == 302


def test_a_superuser_needs_it_too(client: Any, two_factor_on: None) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "a long passphrase 42")
    client.force_login(root)
    assert client.get("/admin/").url.startswith(reverse("two_factor_enrol"))


@pytest.mark.parametrize("who", ["coordinator", "rater", "investigator", "datamanager", "statistician"])
def test_blinded_roles_log_in_with_the_password(login: Any, two_factor_on: None, who: str) -> None:
    assert login(who).get(reverse("dashboard")).status_code == 200


def test_enrolment_shows_a_qr_code_and_gives_backup_codes(login: Any, two_factor_on: None) -> None:
    client = login("unblinded")
    page = client.get(reverse("two_factor_enrol")).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    assert 'id="two-factor-secret"' in page
    codes = _enrol(client)
    assert len(codes) == 10
    assert TOTPDevice.objects.get().confirmed
    assert client.get(reverse("dashboard")).status_code == 200
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.TWO_FACTOR_ENROLLED).count() == 1


def test_a_wrong_first_code_does_not_enrol(login: Any, two_factor_on: None) -> None:
    client = login("pharmacist")
    client.get(reverse("two_factor_enrol"))
    response = client.post(reverse("two_factor_enrol"), {"token": "000000x"})
    assert "That code is not valid" in response.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get(reverse("dashboard")).status_code == 302


def test_next_login_asks_for_a_code_and_a_backup_code_works_once(
    client: Any, users: Any, two_factor_on: None, settings: Any
) -> None:
    client.force_login(users["dsmb"])
    codes = _enrol(client)
    client.logout()

    client.force_login(users["dsmb"])
    response = client.get(reverse("randomization:lists"))
    assert response.url.startswith(reverse("two_factor_verify"))
    wrong = client.post(reverse("two_factor_verify"), {"token": "12345678"})
    assert "That code is not valid" in wrong.content.decode()
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.TWO_FACTOR_FAILED, user=users["dsmb"]).exists()

    # django-otp throttles after a failure; this test is about the codes, not the throttle.
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    ok = client.post(reverse("two_factor_verify"), {"token": codes[0], "next": "/queries/"})
    assert (ok.status_code, ok.url) == (302, "/queries/")
    assert client.get(reverse("dashboard")).status_code == 200

    client.logout()
    client.force_login(users["dsmb"])
    again = client.post(reverse("two_factor_verify"), {"token": codes[0]})
    assert again.status_code == 200  # refused: a backup code works once
    assert client.get(reverse("dashboard")).status_code == 302


def test_the_verify_step_refuses_a_redirect_elsewhere(login: Any, two_factor_on: None) -> None:
    client = login("admin")
    codes = _enrol(client)
    client.logout()
    client = login("admin")
    response = client.post(reverse("two_factor_verify"), {"token": codes[1], "next": "https://evil.example/"})
    assert response.url == reverse("dashboard")


def test_the_demo_login_page_says_two_factor_is_off(client: Any, settings: Any) -> None:
    def login_page_text() -> str:
        return " ".join(client.get(reverse("login")).content.decode().split())

    settings.STRATUM_REQUIRE_TWO_FACTOR = False
    assert "two-factor authentication is switched off here" in login_page_text()
    settings.STRATUM_REQUIRE_TWO_FACTOR = True
    assert "switched off" not in login_page_text()


def test_a_lost_authenticator_is_reset_on_the_server_and_recorded(login: Any, users: Any, two_factor_on: None) -> None:
    from django.contrib import admin
    from django.core.management import call_command
    from django_otp.plugins.otp_static.models import StaticDevice

    _enrol(login("pharmacist"))
    call_command("two_factor_reset", "pharmacist", reason="Phone lost; identity checked in person")
    assert not TOTPDevice.objects.filter(user=users["pharmacist"]).exists()
    assert not StaticDevice.objects.filter(user=users["pharmacist"]).exists()
    [event] = AccessEvent.objects.filter(kind=AccessEvent.Kind.TWO_FACTOR_RESET)
    assert event.target == "user pharmacist" and "Phone lost" in event.detail
    # No web page shows or edits authenticator secrets.
    assert not admin.site.is_registered(TOTPDevice) and not admin.site.is_registered(StaticDevice)
