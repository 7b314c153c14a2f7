"""A locked database answers 423 to every write endpoint, before it reads the body; a locked casebook
answers 423 from the record save path; the write API is throttled per user."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tests.trial.api.conftest import screening_body

pytestmark = pytest.mark.django_db


def _write_requests(participant: Any) -> list[tuple[str, str]]:
    visit = participant.visits.order_by("definition__week").first()
    pid = participant.participant_id
    return [
        ("post", "/api/participants/screen/"),
        ("put", f"/api/participants/{pid}/screening/"),
        ("post", f"/api/participants/{pid}/consent/"),
        ("post", f"/api/participants/{pid}/randomize/"),
        ("post", f"/api/randomization/participants/{participant.pk}/randomize/"),
        ("post", f"/api/participants/{pid}/adverse-events/"),
        ("post", f"/api/participants/{pid}/conmeds/"),
        ("put", f"/api/visits/{visit.pk}/date/"),
        ("post", f"/api/visits/{visit.pk}/missed/"),
        ("put", f"/api/visits/{visit.pk}/hamd/"),
        ("put", f"/api/visits/{visit.pk}/cgis/"),
        ("put", f"/api/visits/{visit.pk}/labs/"),
        ("put", f"/api/visits/{visit.pk}/labs/sample/"),
        ("put", f"/api/visits/{visit.pk}/vitals/"),
        ("put", f"/api/visits/{visit.pk}/infusion/"),
    ]


def test_every_write_endpoint_answers_423_while_the_database_is_locked(
    locked_database: Any, locked_casebook: Any, api: Any
) -> None:
    client = api("coordinator")
    answers = {url: getattr(client, method)(url, {}, format="json") for method, url in _write_requests(locked_casebook)}
    assert {url: r.status_code for url, r in answers.items()} == dict.fromkeys(answers, 423)
    assert all("database is locked" in r.json()["detail"] for r in answers.values())
    # Reading stays open.
    assert client.get(f"/api/participants/{locked_casebook.participant_id}/").status_code == 200


def test_a_role_without_the_capability_still_hears_403_under_lock(
    locked_database: Any, locked_casebook: Any, api: Any
) -> None:
    visit = locked_casebook.visits.order_by("definition__week").first()
    assert api("rater").put(f"/api/visits/{visit.pk}/labs/", {}, format="json").status_code == 403


def test_a_locked_casebook_refuses_a_new_record_with_423(locked_casebook: Any, api: Any) -> None:
    from trial.safety.models import ConcomitantMedication

    url = f"/api/participants/{locked_casebook.participant_id}/conmeds/"
    body = {"name": "Sertraline", "drug_class": "antidepressant", "start_date": "2020-01-01"}
    response = api("coordinator").post(url, body, format="json")
    assert response.status_code == 423 and "casebook is locked" in response.json()["detail"]
    assert not ConcomitantMedication.objects.exists()


def test_writes_are_throttled_per_user(api: Any, site: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api-write": "2/min"}}
    cache.clear()
    try:
        coordinator = api("coordinator")
        answers = [
            coordinator.post("/api/participants/screen/", {"site": "01"}, format="json").status_code for _ in range(3)
        ]
        assert answers == [400, 400, 429]
        # Per user: another user still writes; reading is not throttled.
        body = {"site": "01", "sex": "F", "date_of_birth": "1980-01-15"} | screening_body()
        assert api("investigator").post("/api/participants/screen/", body, format="json").status_code == 201
        assert coordinator.get("/api/participants/").status_code == 200
    finally:
        cache.clear()
