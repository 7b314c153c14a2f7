"""The kit label: a use-by time after preparation from the protocol file ([pharmacy]
infusion_use_by_hours: the diluted infusion's stability), the investigational-drug caution of
21 CFR 312.6(a), and a printout without the site's navigation. A bag past its use-by is not dispensed."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.conftest import PROTOCOL_FILES, second_check_for
from trial.pharmacy.models import Preparation
from trial.pharmacy.services import preparation_create, preparation_dispense
from trial.protocol.config import ProtocolError, load_protocol_file, parse_protocol
from trial.protocol.selectors import protocol

pytestmark = pytest.mark.django_db
CAUTION = "Caution: New Drug - Limited by Federal (or United States) law to investigational use."
CSS = Path(__file__).resolve().parents[3] / "static" / "css" / "stratum.css"


@pytest.fixture
def bag(users: Any, baseline_visit: Any, pharmacy_lot: Any) -> Preparation:
    return preparation_create(
        visit=baseline_visit,
        by=users["pharmacist"],
        weight_kg=82,
        saline_lot="NS",
        second_check=second_check_for(users),
        lot=pharmacy_lot,
    )


def test_the_label_prints_the_use_by_time_and_the_caution(login: Any, bag: Preparation) -> None:
    html = login("pharmacist").get(f"/pharmacy/preparations/{bag.pk}/label/").content.decode()
    box = re.search(r'<div class="label">.*?</div>', html, re.S)
    assert box is not None
    use_by = timezone.localtime(bag.prepared_at + timedelta(hours=protocol().infusion_use_by_hours))
    assert f"Use by {use_by:%d %b %Y %H:%M}" in box.group(0)
    assert CAUTION in box.group(0)


def test_the_label_prints_without_the_site_navigation(login: Any, bag: Preparation) -> None:
    html = login("pharmacist").get(f"/pharmacy/preparations/{bag.pk}/label/").content.decode()
    # The navigation is in the top bar, which the print stylesheet hides.
    assert re.search(r'<header class="topbar">.*<nav aria-label="Main">.*</header>', html, re.S)
    print_rules = re.search(r"@media print \{(.*?)\n\}", CSS.read_text(), re.S)
    assert print_rules is not None
    hidden = print_rules.group(1).split("{", 1)[0]
    assert ".topbar" in hidden and ".no-print" in hidden
    # Inside the page, everything but the label itself is marked not to print.
    main = re.search(r'<main id="main"[^>]*>(.*)</main>', html, re.S)
    assert main is not None
    rest = re.sub(r'<div class="label">.*?</div>', "", main.group(1), flags=re.S)
    for tag in re.findall(r"^\s*<(\w+)([^>]*)>", rest, re.M):
        assert "no-print" in tag[1] or tag[0] == "ul", tag


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_every_protocol_file_states_the_use_by_hours(protocol_file: Any) -> None:
    assert load_protocol_file(protocol_file).infusion_use_by_hours == 3


def test_a_protocol_file_without_the_use_by_hours_is_refused() -> None:
    text = (Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml").read_text()
    with pytest.raises(ProtocolError, match=r"\[pharmacy\]: 'infusion_use_by_hours' is missing"):
        parse_protocol(text.replace("infusion_use_by_hours = 3", ""))
    with pytest.raises(ProtocolError, match="between 1 and 24"):
        parse_protocol(text.replace("infusion_use_by_hours = 3", "infusion_use_by_hours = 0"))


class _Later:
    """django.utils.timezone as the pharmacy services see it, `hours` later (records are never edited
    behind the audit trail, so the clock moves instead of the preparation time)."""

    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> Any:
        return timezone.now() + self.delta

    def __getattr__(self, name: str) -> Any:
        return getattr(timezone, name)


def test_a_bag_past_its_use_by_is_not_dispensed(users: Any, bag: Preparation, monkeypatch: Any) -> None:
    from trial.pharmacy import services

    hours = protocol().infusion_use_by_hours
    monkeypatch.setattr(services, "timezone", _Later(timedelta(hours=hours, minutes=1)))
    with pytest.raises(ValidationError, match="waste it and prepare another"):
        preparation_dispense(preparation=bag, by=users["pharmacist"], dispensed_to="Nurse Ada")
    monkeypatch.setattr(services, "timezone", _Later(timedelta(hours=hours, minutes=-5)))
    assert preparation_dispense(preparation=bag, by=users["pharmacist"], dispensed_to="Nurse Ada").status == "dispensed"
