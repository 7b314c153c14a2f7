"""The Edit checks page: every check of the protocol file with its definition, its kind and how often it
fired, for the data manager and the medical monitor; blinded, it counts nothing that depends on the arm."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from tests.conftest import PROTOCOL_FILES
from trial.core.services import form_entry_save
from trial.protocol.selectors import protocol
from trial.queries.models import DataQuery
from trial.queries.selectors import edit_checks_overview
from trial.visits import services
from trial.visits.models import SoftCheckFiring

pytestmark = pytest.mark.django_db

BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin", "monitor"]


def row(html, code):
    match = re.search(rf'<tr id="check-{code}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(1)


def fired(html, code):
    return int(re.search(r'<td class="fired">(\d+)</td>', row(html, code)).group(1))


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_it_lists_every_check_with_its_definition_and_kind_from_the_file(login, protocol_loaded):
    html = unescape(login("datamanager").get("/queries/edit-checks/").content.decode())
    for check in protocol().soft_checks:
        assert check.definition in html
        assert f"kind-{check.kind}" in row(html, check.code)
    for code in ("hamd_jump", "crp_high", "out_of_window", "weight_change"):
        assert "kind-query" in row(html, code)
    assert f"hs-CRP above {protocol().edit_checks.crp_high_mg_l:g} mg/L" in html


def test_only_the_data_manager_and_the_monitor_reach_it_and_see_it_in_the_menu(login, protocol_loaded):
    for name in ("datamanager", "monitor"):
        r = login(name).get("/queries/edit-checks/")
        assert r.status_code == 200
        assert 'href="/queries/edit-checks/">Edit checks</a>' in login(name).get("/").content.decode()
    for name in ("coordinator", "rater", "investigator", "statistician", "admin", "pharmacist", "unblinded", "dsmb"):
        assert login(name).get("/queries/edit-checks/").status_code == 403, name
        assert "Edit checks</a>" not in login(name).get("/").content.decode()


def test_it_counts_warnings_refusals_and_queries(login, users, enrolled_a_month_ago):
    coordinator = users["coordinator"]
    c = login("coordinator")
    baseline = enrolled_a_month_ago.visits.get(definition__week=0)
    day = baseline.actual_date
    # A warning shown twice (the draw time), then one refusal (a visit missed before its window).
    for _ in range(2):
        c.post(f"/visits/{baseline.pk}/labs/", {"sample_time": f"{day}T07:00", "hs_crp_value": "3"})
    late = enrolled_a_month_ago.visits.get(definition__week=12)
    c.post(f"/visits/{late.pk}/missed/", {"version": str(late.version), "missed_reason_code": "illness"})
    # A query: week 1 out of its window.
    week1 = enrolled_a_month_ago.visits.get(definition__week=1)
    early = week1.window_start - timedelta(days=1)
    form_entry_save(
        participant=enrolled_a_month_ago,
        by=coordinator,
        write=lambda: services.visit_complete(visit=week1, actual_date=early, by=coordinator),
    )
    html = login("datamanager").get("/queries/edit-checks/").content.decode()
    assert fired(html, "blood_draw_time") == 2
    assert fired(html, "missed_before_window") == 1
    assert fired(html, "out_of_window") == DataQuery.objects.filter(check_code="out_of_window").count() == 1
    assert fired(html, "infusion_duration") == 0


def test_a_blinded_role_counts_no_firing_on_a_value_that_reveals_the_arm(users, baseline_visit):
    week = baseline_visit.participant.visits.get(definition__week=2)
    for reveals in (True, False):
        SoftCheckFiring.objects.create(
            check_code="elisa_cv",
            kind="warning",
            participant=baseline_visit.participant,
            visit=week if reveals else baseline_visit,
            message="TNF duplicates ...",
            reveals_arm=reveals,
            fired_by=users["unblinded"],
        )
    by_user = {u: {r.code: r for r in edit_checks_overview(user=users[u])} for u in ("datamanager", "unblinded")}
    assert by_user["datamanager"]["elisa_cv"].fired == 1 and by_user["datamanager"]["elisa_cv"].counted_blind
    assert by_user["unblinded"]["elisa_cv"].fired == 2 and not by_user["unblinded"]["elisa_cv"].counted_blind


def test_a_blinded_role_counts_no_query_on_a_post_baseline_value_that_reveals_the_arm(users, baseline_visit):
    week2 = baseline_visit.participant.visits.get(definition__week=2)
    for visit in (baseline_visit, week2):
        DataQuery.objects.create(
            participant=baseline_visit.participant,
            visit=visit,
            form="labs",
            field="hs_crp",
            text="hs-CRP high",
            source=DataQuery.Source.EDIT_CHECK,
            check_code="crp_high",
        )
    blinded = {r.code: r for r in edit_checks_overview(user=users["monitor"])}
    unblinded = {r.code: r for r in edit_checks_overview(user=users["unblinded"])}
    assert blinded["crp_high"].fired == 1 and unblinded["crp_high"].fired == 2


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_the_page_names_no_arm_for_any_blinded_role_that_reaches_it(client, users, trial_world):
    from tests.trial.blinding.test_leak_scan import arm_disclosures

    for name in BLINDED:
        client.force_login(users[name])
        r = client.get("/queries/edit-checks/")
        assert r.status_code in (200, 403), name
        assert not arm_disclosures(r.content.decode()), name
