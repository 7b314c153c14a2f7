"""The forms that are not clinical record forms carry the one-time token too: drug wastage and lot
receipt, code-break request, decision and review, randomization list generation and upload, the
analysis request, the end of study and data queries. A double click or a resent POST makes one
thing and shows it (ICH E6(R3) data integrity: one event, one record)."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analysis.models import AnalysisRun
from trial.accounts.users import DEMO_PASSWORD
from trial.core.models import AccessEvent
from trial.participants.models import EndOfStudy
from trial.pharmacy.models import DrugLot, Wastage
from trial.queries.models import DataQuery, QueryMessage
from trial.randomization.models import CodeBreak, RandomizationList

pytestmark = pytest.mark.django_db

ALREADY = "already saved"


def _page_form(client: Client, url: str, form_id: str | None = None) -> dict[str, Any]:
    """What the page's form would post as it stands: its token and other hidden values."""
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    tokens = re.findall(r'name="submission_token" value="([0-9a-f]{32})"', html)
    assert tokens, f"{url}: the form carries no one-time token"
    return {"submission_token": tokens[0]}


def _twice(client: Client, url: str, data: dict[str, Any], count: Callable[[], int]) -> None:
    """Post the same form twice: one thing is made, and the second post shows it, saying so."""
    before = count()
    first = client.post(url, data)
    assert first.status_code == 302, first.content.decode()[:2000]
    second = client.post(url, data, follow=True)
    assert second.redirect_chain[0][0] == first["Location"]
    assert ALREADY in second.content.decode()
    assert count() == before + 1


def test_drug_wastage_twice_is_one_wastage(login: Any, pharmacy_lot: DrugLot) -> None:
    client = login("pharmacist")
    url = f"/pharmacy/lots/{pharmacy_lot.pk}/wastage/"
    data = _page_form(client, url) | {"vials": "2", "wasted_on": date.today().isoformat(), "reason": "Dropped"}
    _twice(client, url, data, lambda: Wastage.objects.count())


def test_a_lot_received_twice_is_one_lot(login: Any, protocol_loaded: Any) -> None:
    client = login("pharmacist")
    url = "/pharmacy/lots/receive/"
    today = date.today()
    data = _page_form(client, url) | {
        "lot_number": "LOT-B7",
        "expiry_date": (today + timedelta(days=300)).isoformat(),
        "vials_received": "50",
        "received_on": today.isoformat(),
    }
    _twice(client, url, data, lambda: DrugLot.objects.count())


def test_a_code_break_requested_twice_is_one_request(login: Any, randomized: Any) -> None:
    client = login("investigator")
    url = f"/randomization/participants/{randomized.pk}/code-break/"
    data = _page_form(client, url) | {"reason": "Anaphylaxis during infusion", "password": DEMO_PASSWORD}
    _twice(client, url, data, lambda: CodeBreak.objects.count())


def test_a_code_break_decided_twice_is_one_decision(client: Client, users: Any, randomized: Any) -> None:
    from trial.randomization.services import code_break_request

    cb = code_break_request(participant=randomized, by=users["investigator"], reason="Sepsis", password=DEMO_PASSWORD)
    client.force_login(users["unblinded"])
    data = _page_form(client, f"/randomization/code-breaks/{cb.pk}/") | {"decision": "approve", "note": "Agreed"}

    def decisions() -> int:
        return AccessEvent.objects.filter(kind=AccessEvent.Kind.CODE_BREAK_DECIDED).count()

    _twice(client, f"/randomization/code-breaks/{cb.pk}/decide/", data, decisions)
    cb.refresh_from_db()
    assert cb.status == CodeBreak.Status.APPROVED


def test_a_code_break_reviewed_twice_is_one_review(client: Client, users: Any, randomized: Any) -> None:
    from trial.randomization.services import code_break_request

    cb = code_break_request(
        participant=randomized,
        by=users["investigator"],
        reason="Severe reaction",
        password=DEMO_PASSWORD,
        immediate=True,
        justification="No time to wait",
    )
    client.force_login(users["monitor"])
    data = _page_form(client, f"/randomization/code-breaks/{cb.pk}/") | {"note": "Justified"}

    def reviews() -> int:
        return AccessEvent.objects.filter(kind=AccessEvent.Kind.CODE_BREAK_REVIEWED).count()

    _twice(client, f"/randomization/code-breaks/{cb.pk}/review/", data, reviews)


def test_a_list_stored_twice_is_one_list(login: Any, protocol_loaded: Any) -> None:
    client = login("unblinded")
    url = "/randomization/lists/generate/"
    data = _page_form(client, url) | {"name": "Second list", "per_stratum": "8", "block_sizes": ["4"]}
    _twice(client, url, data, lambda: RandomizationList.objects.count())


def test_the_preview_does_not_use_up_the_token(login: Any, protocol_loaded: Any) -> None:
    client = login("unblinded")
    url = "/randomization/lists/generate/"
    data = _page_form(client, url) | {"name": "Previewed", "per_stratum": "8", "block_sizes": ["4"]}
    assert client.post(url, data | {"preview": "1"}).status_code == 200
    assert client.post(url, data).status_code == 302
    assert RandomizationList.objects.filter(name="Previewed").count() == 1


def _list_csv() -> bytes:
    from trial.protocol.selectors import protocol
    from trial.randomization.generation import CSV_COLUMNS, generate_list
    from trial.randomization.services import list_strata

    config = protocol()
    planned = generate_list(
        strata=list_strata(config, by_site=False),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=[4],
        per_stratum=8,
        rng=random.Random(7),
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows((getattr(p, c) for c in CSV_COLUMNS) for p in planned)
    return out.getvalue().encode()


def test_a_list_uploaded_twice_is_one_list(login: Any, protocol_loaded: Any) -> None:
    client = login("unblinded")
    url = "/randomization/lists/upload/"
    token = _page_form(client, url)
    content = _list_csv()

    def post(**kwargs: Any) -> Any:
        # Each post sends the file afresh, as a browser resending the form does.
        data = token | {"name": "Uploaded", "file": SimpleUploadedFile("list.csv", content)}
        return client.post(url, data, **kwargs)

    first = post()
    assert first.status_code == 302
    second = post(follow=True)
    assert second.redirect_chain[0][0] == first["Location"] and ALREADY in second.content.decode()
    assert RandomizationList.objects.filter(name="Uploaded").count() == 1


def test_an_analysis_requested_twice_is_one_run(login: Any, protocol_loaded: Any) -> None:
    client = login("statistician")
    url = "/analysis/request/"
    data = _page_form(client, url) | {"kind": "dataset_summary"}
    _twice(client, url, data, lambda: AnalysisRun.objects.count())


def test_an_end_of_study_sent_twice_is_one_end_of_study(login: Any, randomized: Any) -> None:
    client = login("coordinator")
    url = f"/participants/{randomized.participant_id}/end-of-study/"
    data = _page_form(client, url) | {
        "outcome": "withdrawn",
        "end_date": date.today().isoformat(),
        "end_reason": "withdrew consent",
    }
    _twice(client, url, data, lambda: EndOfStudy.objects.count())


def test_a_query_opened_twice_is_one_query(login: Any, randomized: Any) -> None:
    client = login("datamanager")
    url = f"/queries/new/?participant={randomized.participant_id}"
    data = _page_form(client, url) | {"target": "screening:weight_kg", "text": "Please confirm the weight."}
    _twice(client, url, data, lambda: DataQuery.objects.count())


def test_a_query_answered_twice_is_one_answer(client: Client, users: Any, randomized: Any) -> None:
    from trial.queries.services import query_open

    query = query_open(
        participant=randomized, form="screening", field="weight_kg", text="Confirm?", by=users["datamanager"]
    )
    client.force_login(users["coordinator"])
    url = f"/queries/{query.pk}/"
    data = _page_form(client, url) | {"version": str(query.version), "action": "answer", "text": "Confirmed."}

    def answers() -> int:
        return QueryMessage.objects.filter(query=query, action=QueryMessage.Action.ANSWERED).count()

    _twice(client, url, data, answers)


def test_a_refused_request_keeps_its_token_for_the_corrected_one(login: Any, randomized: Any) -> None:
    """A wrong password refuses the request and saves nothing; the corrected resubmission of the same
    page (same token) is then recorded."""
    client = login("investigator")
    url = f"/randomization/participants/{randomized.pk}/code-break/"
    data = _page_form(client, url) | {"reason": "Anaphylaxis during infusion"}
    refused = client.post(url, data | {"password": "wrong-password"})
    assert refused.status_code == 200 and data["submission_token"] in refused.content.decode()
    assert client.post(url, data | {"password": DEMO_PASSWORD}).status_code == 302
    assert CodeBreak.objects.count() == 1
