"""Reconciliation of the clinic's infusions with the pharmacy's dispensing (ICH E6(R3) investigational
product accountability). Each mismatch raises a data query only the unblinded pharmacist sees; no
blinded role reaches the page or the queries (trial.blinding)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from tests.conftest import second_check_for
from trial.closeout.reconciliation import pharmacy_reconciliation_run, reconciliation_rows
from trial.pharmacy.selectors import DISPENSED_NOT_GIVEN, GIVEN_NOT_DISPENSED, reconciliation_mismatches
from trial.pharmacy.services import preparation_create, preparation_dispense
from trial.queries.models import DataQuery
from trial.queries.services import query_close
from trial.visits.services import infusion_record

pytestmark = pytest.mark.django_db

BLINDED = ("coordinator", "rater", "investigator", "datamanager", "monitor", "statistician", "admin")


def _bag(users: Any, visit: Any, lot: Any, *, dispense: bool) -> Any:
    prep = preparation_create(
        visit=visit,
        by=users["pharmacist"],
        weight_kg=82,
        saline_lot="NS",
        second_check=second_check_for(users),
        lot=lot,
    )
    if dispense:
        prep = preparation_dispense(preparation=prep, by=users["pharmacist"], dispensed_to="Nurse Ada")
    return prep


@pytest.fixture
def mismatched(users: Any, baseline_visit: Any, pharmacy_lot: Any, coordinator: Any) -> dict[str, Any]:
    """Week 0: infusion given, its bag prepared but never dispensed. Week 2: a bag dispensed, no infusion."""
    participant = baseline_visit.participant
    infusion_record(visit=baseline_visit, data={"weight_kg": 82}, by=coordinator)
    w0_bag = _bag(users, baseline_visit, pharmacy_lot, dispense=False)
    w2 = participant.visits.get(definition__code="W2")
    w2_bag = _bag(users, w2, pharmacy_lot, dispense=True)
    return {"participant": participant, "w0": baseline_visit, "w0_bag": w0_bag, "w2": w2, "w2_bag": w2_bag}


def test_it_finds_an_infusion_given_with_no_bag_dispensed(users: Any, mismatched: dict[str, Any]) -> None:
    found = reconciliation_mismatches(user=users["pharmacist"])
    assert [(m.kind, m.visit.pk) for m in found] == [(GIVEN_NOT_DISPENSED, mismatched["w0"].pk)]


def test_a_dispensed_bag_is_a_mismatch_only_once_the_window_closed(users: Any, mismatched: dict[str, Any]) -> None:
    w2 = mismatched["w2"]
    before = reconciliation_mismatches(user=users["pharmacist"], today=w2.window_end)
    assert DISPENSED_NOT_GIVEN not in {m.kind for m in before}
    after = reconciliation_mismatches(user=users["pharmacist"], today=w2.window_end + timedelta(days=1))
    late = [m for m in after if m.kind == DISPENSED_NOT_GIVEN]
    assert [(m.visit.pk, m.preparation) for m in late] == [(w2.pk, mismatched["w2_bag"])]
    assert mismatched["w2_bag"].kit_id in late[0].text


def test_each_mismatch_raises_one_pharmacy_only_query_closed_when_resolved(
    users: Any, mismatched: dict[str, Any]
) -> None:
    later = mismatched["w2"].window_end + timedelta(days=1)
    assert pharmacy_reconciliation_run(by=users["pharmacist"], today=later)["opened"] == 2
    assert pharmacy_reconciliation_run(by=users["pharmacist"], today=later)["opened"] == 0  # no duplicates
    queries = DataQuery.objects.filter(source=DataQuery.Source.RECONCILIATION)
    assert {q.audience for q in queries} == {DataQuery.Audience.PHARMACY}
    assert {q.check_code for q in queries} == {GIVEN_NOT_DISPENSED, DISPENSED_NOT_GIVEN}
    rows = reconciliation_rows(user=users["pharmacist"], today=later)
    assert all(row.query is not None and row.query.status == "open" for row in rows)
    # The week-0 bag is dispensed after all: that query closes by itself, the other stays open.
    preparation_dispense(preparation=mismatched["w0_bag"], by=users["pharmacist"], dispensed_to="Nurse Ada")
    assert pharmacy_reconciliation_run(by=users["pharmacist"], today=later)["closed"] == 1
    assert queries.get(check_code=GIVEN_NOT_DISPENSED).status == "closed"
    assert queries.get(check_code=DISPENSED_NOT_GIVEN).status == "open"


def test_only_a_pharmacist_runs_the_reconciliation_and_answers_its_queries(
    users: Any, mismatched: dict[str, Any]
) -> None:
    for name in (*BLINDED, "unblinded", "dsmb"):
        with pytest.raises(PermissionDenied):
            pharmacy_reconciliation_run(by=users[name])
    pharmacy_reconciliation_run(by=users["pharmacist"])
    query = DataQuery.objects.get(source=DataQuery.Source.RECONCILIATION)
    with pytest.raises(PermissionDenied):
        query_close(query=query, by=users["datamanager"], text="")
    assert query_close(query=query, by=users["pharmacist2"], text="Dispensing entered late").status == "closed"


def test_no_blinded_role_sees_the_page_or_its_queries(login: Any, users: Any, mismatched: dict[str, Any]) -> None:
    pharmacist = login("pharmacist")
    assert pharmacist.post("/closeout/pharmacy-reconciliation/").status_code == 302
    query = DataQuery.objects.get(source=DataQuery.Source.RECONCILIATION)
    page = pharmacist.get("/closeout/pharmacy-reconciliation/").content.decode()
    assert f"/queries/{query.pk}/" in page and mismatched["participant"].participant_id in page
    assert f"/queries/{query.pk}/" in pharmacist.get("/queries/").content.decode()
    assert pharmacist.get(f"/queries/{query.pk}/").status_code == 200
    participant_id = mismatched["participant"].participant_id
    for name in BLINDED:
        client = login(name)
        assert client.get("/closeout/pharmacy-reconciliation/").status_code == 403, name
        assert client.post("/closeout/pharmacy-reconciliation/").status_code == 403, name
        assert f"/queries/{query.pk}/" not in client.get("/queries/").content.decode(), name
        assert client.get(f"/queries/{query.pk}/").status_code == 404, name
        assert "dispensed" not in client.get(f"/queries/?participant={participant_id}").content.decode(), name
    datamanager = login("datamanager")
    review = datamanager.get(f"/closeout/participants/{participant_id}/").content.decode()
    assert "pharmacy dispensed" not in review and "Pharmacy reconciliation" not in review
    # The unblinded statistician sees the page (arms are theirs to see) but not the pharmacy's queries.
    unblinded = login("unblinded")
    assert unblinded.get("/closeout/pharmacy-reconciliation/").status_code == 200
    assert unblinded.post("/closeout/pharmacy-reconciliation/").status_code == 403
    assert unblinded.get(f"/queries/{query.pk}/").status_code == 404
