"""Screening, consent and end-of-study dates within the trial's plausible range and the participant's
own timeline; every whole number with an explicit range (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.conftest import ELIGIBLE_SCREENING
from trial.participants.models import Consent, Participant
from trial.participants.services import consent_record, end_of_study_record, participant_screen

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1900, 1, 1)])
def test_it_refuses_a_screening_dated_before_the_trial(site: Any, coordinator: Any, day: date) -> None:
    with pytest.raises(ValidationError) as exc:
        participant_screen(
            site=site,
            sex="F",
            date_of_birth=date(1980, 1, 1),
            screening=ELIGIBLE_SCREENING | {"screening_date": day},
            by=coordinator,
        )
    assert "screening_date" in exc.value.message_dict
    assert not Participant.objects.exists()


@pytest.mark.parametrize("months", [2**31, 601, -1])
def test_it_refuses_an_episode_duration_out_of_range(site: Any, coordinator: Any, months: int) -> None:
    data = ELIGIBLE_SCREENING | {"screening_date": date.today(), "episode_duration_months": months}
    with pytest.raises(ValidationError) as exc:
        participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 1), screening=data, by=coordinator)
    assert "episode_duration_months" in exc.value.message_dict


def test_the_screening_form_says_so_and_keeps_the_input(login: Any, site: Any) -> None:
    response = login("coordinator").post(
        "/participants/screen/", {"episode_duration_months": str(2**31), "site": site.pk}
    )
    assert response.status_code == 200
    assert (
        "Duration of the current episode must be between 0 and 600 months"
        in response.context["form"].errors["episode_duration_months"][0]
    )
    assert f'value="{2**31}"' in response.content.decode()


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1900, 1, 1)])
def test_it_refuses_consent_dated_long_ago(make_participant: Any, coordinator: Any, day: date) -> None:
    p = make_participant(consent=False)
    with pytest.raises(ValidationError) as exc:
        consent_record(participant=p, consent_date=day, by=coordinator)
    assert "consent_date" in exc.value.message_dict


def test_it_refuses_consent_before_screening(make_participant: Any, coordinator: Any) -> None:
    p = make_participant(consent=False, screened_days_ago=5)
    with pytest.raises(ValidationError, match="before the participant's screening"):
        consent_record(participant=p, consent_date=date.today() - timedelta(days=6), by=coordinator)
    assert not Consent.objects.exists()


def test_it_refuses_consent_after_the_end_of_study(randomized: Any, coordinator: Any) -> None:
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    with pytest.raises(ValidationError, match="study has ended"):
        consent_record(participant=randomized, consent_date=date.today(), by=coordinator)


def test_it_refuses_an_end_of_study_before_screening(randomized: Any, coordinator: Any) -> None:
    with pytest.raises(ValidationError, match="before the participant's screening"):
        end_of_study_record(
            participant=randomized,
            outcome="withdrawn",
            end_date=randomized.screening.screening_date - timedelta(days=1),
            reason="withdrew consent",
            by=coordinator,
        )
