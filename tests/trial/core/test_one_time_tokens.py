"""A double click or a resent POST of a record form makes one record and shows it (one-time token)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.trial.concurrency import at_once
from trial.participants.models import Consent
from trial.safety.models import AdverseEvent


def _token(client: Client, url: str) -> str:
    html = client.get(url).content.decode()
    match = re.search(r'name="submission_token" value="([0-9a-f]{32})"', html)
    assert match, "the form carries no one-time token"
    return match.group(1)


def _ae(randomized: Any) -> dict[str, str]:
    return {
        "term": "Headache",
        "onset_date": randomized.screening.screening_date.isoformat(),
        "severity": "mild",
        "relatedness": "not_related",
        "action_taken": "none",
        "outcome": "recovering",
        "ongoing": "on",
    }


@pytest.mark.django_db
def test_a_resent_adverse_event_makes_one_record_and_shows_it(login: Any, randomized: Any) -> None:
    client = login("coordinator")
    url = f"/safety/participants/{randomized.participant_id}/adverse-events/new/"
    data = _ae(randomized) | {"submission_token": _token(client, url)}
    first = client.post(url, data)
    second = client.post(url, data, follow=True)
    assert first.status_code == 302
    assert second.redirect_chain[0][0] == first["Location"]
    assert "already saved" in second.content.decode()
    assert AdverseEvent.objects.count() == 1
    # A new form is a new token: a second event on purpose is recorded.
    client.post(url, _ae(randomized) | {"submission_token": _token(client, url)})
    assert AdverseEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_submission_can_be_corrected_and_sent_again_with_its_token(login: Any, randomized: Any) -> None:
    client = login("coordinator")
    url = f"/safety/participants/{randomized.participant_id}/adverse-events/new/"
    data = _ae(randomized) | {"submission_token": _token(client, url)}
    refused = client.post(url, data | {"severity": ""})
    assert refused.status_code == 200 and data["submission_token"] in refused.content.decode()
    assert client.post(url, data).status_code == 302
    assert AdverseEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_consent_makes_one_consent(make_participant: Any, users: Any) -> None:
    p = make_participant(consent=False)
    url = f"/participants/{p.participant_id}/consent/"
    client = Client()
    client.force_login(users["coordinator"])
    data = {
        "consent_date": p.screening.screening_date.isoformat(),
        "consent_version": "v1.0",
        "participant_signed": "on",
        "copy_given": "on",
        "submission_token": _token(client, url),
    }

    def click() -> int:
        c = Client()
        c.force_login(users["coordinator"])
        return c.post(url, data).status_code

    statuses, errors = at_once([click, click])
    assert errors == [] and statuses == [302, 302]
    assert Consent.objects.filter(participant=p).count() == 1
