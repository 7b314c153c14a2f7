"""The REST API: a root, working pagination, token authentication, the OpenAPI schema, and
Schemathesis run against that schema (a few examples per operation): no server error, and every
response conforms to the schema."""

from __future__ import annotations

from typing import Any

import pytest


def test_the_api_root_links_to_what_the_role_may_use(login: Any, randomized: Any) -> None:
    root = login("datamanager").get("/api/").json()
    assert root["participants"].endswith("/api/participants/") and "export_datasets" in root
    assert "export_datasets" not in login("coordinator").get("/api/").json()


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


@pytest.mark.django_db(transaction=False)
def test_schemathesis_finds_no_server_error_and_every_response_conforms(
    users: Any, randomized: Any, baseline_visit: Any
) -> None:
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
        for username in ("datamanager", "unblinded"):
            _token, key = api_token_create(by=users[username], name="schemathesis")
            headers = {"Authorization": f"Token {key}"}
            for operation in operations:

                @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
                @given(case=operation.as_strategy())
                def run(case: Any) -> None:
                    case.call_and_validate(
                        app=app,
                        headers=headers,  # noqa: B023 (run() is called at once, inside this iteration)
                        checks=[not_a_server_error, response_schema_conformance],
                    )

                run()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
