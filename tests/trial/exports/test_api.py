"""The REST API: a root, working pagination, token authentication, the OpenAPI schema, and
Schemathesis run against that schema (a few examples per operation): no server error, and every
response conforms to the schema; the write operations as a coordinator on a small seeded trial."""

from __future__ import annotations

from typing import Any

import pytest


def test_the_api_root_links_to_what_the_role_may_use(login: Any, randomized: Any) -> None:
    root = login("datamanager").get("/api/").json()
    assert root["participants"].endswith("/api/participants/") and "export_datasets" in root
    coordinator = login("coordinator").get("/api/").json()
    assert "export_datasets" not in coordinator and coordinator["screen"].endswith("/api/participants/screen/")
    assert "screen" not in login("rater").get("/api/").json()


def test_page_two_is_the_second_page(login: Any, make_participant: Any, monkeypatch: Any) -> None:
    from rest_framework.pagination import PageNumberPagination

    # DRF reads PAGE_SIZE once, into the class; two per page keeps the trial small.
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    ids = sorted(make_participant().participant_id for _ in range(3))
    client = login("datamanager")
    first = client.get("/api/participants/").json()
    second = client.get("/api/participants/?page=2").json()
    assert first["count"] == 3 and second["count"] == 3
    assert [r["participant_id"] for r in first["results"]] == ids[:2]
    assert [r["participant_id"] for r in second["results"]] == ids[2:]
    assert second["next"] is None and second["previous"] is not None


def test_export_datasets_page_through_the_api_with_the_blind(login: Any, randomized: Any, baseline_visit: Any) -> None:
    client = login("statistician")
    listing = {d["code"] for d in client.get("/api/exports/").json()}
    assert "hamd" in listing and "pharm" not in listing
    dm = client.get("/api/exports/dm/").json()
    assert dm["count"] == 1 and dm["results"][0]["SUBJID"] == randomized.participant_id
    assert "ARM" not in dm["results"][0]
    assert client.get("/api/exports/pharm/").status_code == 403
    assert client.get("/api/exports/nosuch/").status_code == 404
    assert login("unblinded").get("/api/exports/pharm/").status_code == 200
    codebook = client.get("/api/exports/codebook/").json()
    assert any(r["name"] == "TOTAL" and r["dataset"] == "hamd" for r in codebook)


def test_the_schema_and_its_docs_are_served(login: Any, protocol_loaded: Any) -> None:
    client = login("statistician")
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    body = schema.content.decode()
    assert "/api/exports/{dataset}/" in body and "tokenAuth" in body
    docs = client.get("/api/docs/").content.decode()
    assert "/api/participants/" in docs


def _schemathesis_run(users: Any, runs: list[tuple[str, Any, dict[str, Any]]]) -> None:
    """Run Schemathesis as each (user name, which operations, pinned path parameters): a few examples
    per operation, in this test's transaction, checking for server errors and schema conformance."""
    import schemathesis
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections
    from drf_spectacular.generators import SchemaGenerator
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from trial.exports.services import api_token_create

    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw)
    app = get_wsgi_application()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    # As Django's test client does: the WSGI handler would otherwise close the test transaction's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for username, wanted, pins in runs:
            _token, key = api_token_create(by=users[username], name="schemathesis")
            headers = {"Authorization": f"Token {key}"}
            for operation in filter(wanted, operations):
                pinned = pins.get(operation.path, {})

                @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
                @given(case=operation.as_strategy())
                def run(case: Any) -> None:
                    # Real records, so the examples reach the forms and services, not only a 404.
                    case.path_parameters = {**(case.path_parameters or {}), **pinned}  # noqa: B023 (called at once)
                    case.call_and_validate(
                        app=app,
                        headers=headers,  # noqa: B023 (run() is called at once, inside this iteration)
                        checks=[not_a_server_error, response_schema_conformance],
                    )

                run()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db(transaction=False)
def test_schemathesis_finds_no_server_error_and_every_response_conforms(
    users: Any, randomized: Any, baseline_visit: Any
) -> None:
    def every(operation: Any) -> bool:
        return True

    # Two roles that read everything they may; the write operations answer them 403.
    _schemathesis_run(users, [("datamanager", every, {}), ("unblinded", every, {})])


@pytest.mark.django_db(transaction=False)
def test_schemathesis_writes_as_a_coordinator_without_a_server_error(
    users: Any, randomized: Any, baseline_visit: Any, make_participant: Any
) -> None:
    """The write operations on a small seeded trial: a randomized participant with its baseline done
    (the visit forms), a screened one (screening, consent, randomize), an adverse event and a
    medication to correct. Every answer is a documented one: 2xx, 400, 404, 409 or 423, never 5xx."""
    from trial.safety.services import adverse_event_record, conmed_record

    coordinator = users["coordinator"]
    screened = make_participant(consent=False)
    ae = adverse_event_record(
        participant=randomized,
        data={
            "term": "Headache",
            "onset_date": baseline_visit.actual_date,
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
            "ongoing": True,
        },
        by=coordinator,
    )
    med = conmed_record(
        participant=randomized,
        data={"name": "Sertraline", "drug_class": "antidepressant", "start_date": baseline_visit.actual_date},
        by=coordinator,
    )
    visit = {"visit_pk": baseline_visit.pk}
    pins: dict[str, dict[str, Any]] = {
        "/api/participants/{participant_id}/screening/": {"participant_id": screened.participant_id},
        "/api/participants/{participant_id}/consent/": {"participant_id": screened.participant_id},
        "/api/participants/{participant_id}/randomize/": {"participant_id": screened.participant_id},
        "/api/randomization/participants/{participant_pk}/randomize/": {"participant_pk": screened.pk},
        "/api/participants/{participant_id}/adverse-events/": {"participant_id": randomized.participant_id},
        "/api/participants/{participant_id}/conmeds/": {"participant_id": randomized.participant_id},
        "/api/adverse-events/{id}/": {"id": ae.pk},
        "/api/conmeds/{id}/": {"id": med.pk},
        **{f"/api/visits/{{visit_pk}}/{form}/": visit for form in ("date", "missed", "hamd", "cgis", "labs")},
        **{f"/api/visits/{{visit_pk}}/{form}/": visit for form in ("vitals", "infusion", "labs/sample")},
    }

    def writes(operation: Any) -> bool:
        return operation.method.upper() != "GET"

    _schemathesis_run(users, [("coordinator", writes, pins)])
