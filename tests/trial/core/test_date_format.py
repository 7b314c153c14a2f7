"""One date format: `02 Dec 2026` on every page and in the admin, times with their zone, ISO entry with
a visible hint; an ambiguous `02/12/2026` is refused, not guessed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django import forms
from django.template import Context, Template
from django.urls import reverse

from trial.core.forms import DATE, DATETIME, DATETIME_FORMATS


class Dated(forms.Form):
    day = forms.DateField(widget=DATE)
    at = forms.DateTimeField(widget=DATETIME, input_formats=DATETIME_FORMATS)


def test_dates_and_times_display_in_one_unambiguous_format_with_the_zone() -> None:
    out = Template("{{ d|date }}|{{ t|date:'DATETIME_FORMAT' }}|{{ t }}").render(
        Context({"d": date(2026, 12, 2), "t": datetime(2026, 12, 2, 0, 43, tzinfo=UTC)})
    )
    # Formatted independently of our settings: day, English month abbreviation, year; 24-hour time; zone.
    expected_date = f"{date(2026, 12, 2):%d %b %Y}"
    assert out == f"{expected_date}|{expected_date} 00:43 UTC|{expected_date} 00:43 UTC"


def test_the_date_widget_is_iso_text_with_a_visible_hint() -> None:
    html = str(Dated(initial={"day": date(2026, 12, 2)})["day"])
    assert 'type="text"' in html and 'value="2026-12-02"' in html
    assert 'aria-describedby="id_day-hint"' in html
    assert re.search(r'<span class="date-hint" id="id_day-hint">YYYY-MM-DD</span>', html)
    assert "UTC" in str(Dated()["at"])  # a time says which zone it is typed in


@pytest.mark.parametrize(
    ("typed", "ok"),
    [("2026-12-02", True), ("02/12/2026", False), ("12/02/2026", False), ("2 Dec 2026", False)],
)
def test_only_iso_dates_are_accepted(typed: str, ok: bool) -> None:
    form = Dated(data={"day": typed, "at": "2026-12-02 09:30"})
    assert form.is_valid() is ok, form.errors
    if ok:
        assert form.cleaned_data["day"] == date(2026, 12, 2)
        assert form.cleaned_data["at"] == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_the_participant_page_and_the_admin_use_the_same_format(login: Any, randomized: Any) -> None:
    html = login("coordinator").get(reverse("participants:detail", args=[randomized.participant_id])).content.decode()
    expected = f"{randomized.allocation.randomized_at:%d %b %Y %H:%M} UTC"
    assert expected in html
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{2}/\d{2}/\d{4}\b", _visible_text(html))
    # The admin's change list and its history show dates the same way, the history's times with the zone.
    client = login("datamanager")
    screening = randomized.screening
    listing = client.get(reverse("admin:participants_screening_changelist")).content.decode()
    assert f"{screening.screening_date:%d %b %Y}" in listing
    assert f"{screening.screening_date:%d/%m/%Y}" not in listing
    history = client.get(reverse("admin:participants_screening_history", args=[screening.pk])).content.decode()
    changed = screening.history.first().history_date
    assert f"{changed:%d %b %Y %H:%M} UTC" in history
    assert "a.m." not in history and "p.m." not in history


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S))
