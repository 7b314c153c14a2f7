"""Site scope (trial.participants.scope): a site-bound role reaches only its own sites' participants,
on every page, CRF, API endpoint, list, dashboard count and export; another site's participant is
answered as if it did not exist (404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from tests.conftest import ELIGIBLE_SCREENING

pytestmark = pytest.mark.django_db


def other_site_urls(w: Any) -> list[str]:
    pid, pk, v = w.b.participant_id, w.b.pk, w.visit_b.pk
    return [
        f"/participants/{pid}/",
        f"/participants/{pid}/screening/",
        f"/participants/{pid}/consent/",
        f"/participants/{pid}/end-of-study/",
        f"/participants/{pid}/randomize/",
        f"/visits/{v}/",
        f"/visits/{v}/blank-crf/",
        f"/visits/{v}/date/",
        f"/visits/{v}/missed/",
        f"/visits/{v}/hamd/",
        f"/visits/{v}/cgis/",
        f"/visits/{v}/labs/",
        f"/visits/{v}/labs/sample/",
        f"/visits/{v}/vitals/",
        f"/visits/{v}/infusion/",
        f"/safety/participants/{pid}/adverse-events/new/",
        f"/safety/adverse-events/{w.ae_b.pk}/",
        f"/safety/participants/{pid}/conmeds/new/",
        f"/safety/participants/{pid}/deviations/new/",
        f"/queries/{w.query_b.pk}/",
        f"/closeout/participants/{pid}/",
        f"/closeout/participants/{pid}/sign/",
        f"/randomization/participants/{pk}/code-break/",
        f"/api/participants/{pid}/",
        f"/api/participants/{pid}/labs/",
    ]


def test_it_answers_404_on_every_page_crf_and_api_detail_of_another_sites_participant(
    client: Any, site_world: Any
) -> None:
    client.force_login(site_world.coordinator_a)
    answers = {url: client.get(url).status_code for url in other_site_urls(site_world)}
    assert {url: s for url, s in answers.items() if s != 404} == {}
    posted = client.post(f"/api/randomization/participants/{site_world.b.pk}/randomize/", {})
    assert posted.status_code == 404


def test_the_same_pages_of_the_own_sites_participant_open(client: Any, site_world: Any) -> None:
    """Control: the 404s above come from the site, not from the pages."""
    client.force_login(site_world.coordinator_a)
    pid, visit = site_world.a.participant_id, site_world.a.visits.order_by("definition__week").first()
    for url in (
        f"/participants/{pid}/",
        f"/visits/{visit.pk}/",
        f"/visits/{visit.pk}/vitals/",
        f"/api/participants/{pid}/",
    ):
        assert client.get(url).status_code == 200, url


def test_a_token_client_of_another_site_gets_404_from_the_api(client: Any, site_world: Any) -> None:
    """A token is authenticated inside the API view, after the page middleware: the API's own
    permission class applies the same rule. No site-bound role may make a token today (tokens are
    for exports), so the token is made as the service would, for whichever role gets one later."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from trial.exports.models import ApiToken, roles_fingerprint
    from trial.exports.services import token_digest

    raw = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=site_world.coordinator_a,
        name="script",
        key_prefix=raw[:8],
        key_sha256=token_digest(raw),
        created_at=timezone.now(),
        roles_at_issue=roles_fingerprint(site_world.coordinator_a),
        expires_at=timezone.now() + timedelta(days=1),
    )
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    assert client.get(f"/api/participants/{site_world.b.participant_id}/", **auth).status_code == 404
    assert client.get(f"/api/participants/{site_world.a.participant_id}/", **auth).status_code == 200


def test_another_sites_participant_is_in_no_list(client: Any, site_world: Any) -> None:
    a, b = site_world.a.participant_id, site_world.b.participant_id
    client.force_login(site_world.coordinator_a)
    due = [f"/visits/due/?list={which}" for which in ("today", "this_week", "overdue")]
    for url in ("/participants/", "/", "/queries/", "/randomization/", "/closeout/", *due):
        text = client.get(url).content.decode()
        assert b not in text, url
    assert a in client.get("/participants/").content.decode()
    api = client.get("/api/participants/").json()
    assert [r["participant_id"] for r in api["results"]] == [a]
    aes = client.get("/api/adverse-events/").json()
    assert b not in {r["participant_id"] for r in aes["results"]}
    allocations = client.get("/api/randomization/allocations/").json()
    assert {r["participant_id"] for r in allocations} == {a}


def test_the_dashboard_counts_only_the_own_sites(site_world: Any, users: dict[str, Any]) -> None:
    from trial.workspace.selectors import dashboard_summary

    mine = dashboard_summary(user=site_world.coordinator_a)
    everyone = dashboard_summary(user=users["datamanager"])
    assert mine["screened_count"] == 1 and everyone["screened_count"] == 2
    assert mine["randomized_count"] == 1 and everyone["randomized_count"] == 2
    assert sum(row["n"] for row in mine["strata"]) == 1
    assert mine["queries_open"] == 0 and everyone["queries_open"] == 1


def test_a_site_bound_export_holds_only_the_own_sites_rows(site_world: Any, users: dict[str, Any]) -> None:
    from trial.exports.datasets import dataset_table, datasets_for

    for code in (d.code for d in datasets_for(site_world.coordinator_a)):
        ids = set(dataset_table(code, user=site_world.coordinator_a).frame.get("SUBJID", []))
        assert site_world.b.participant_id not in ids, code
    dm = dataset_table("dm", user=site_world.coordinator_a).frame
    assert list(dm["SUBJID"]) == [site_world.a.participant_id]
    # The datasets that cannot be cut by site are not offered to a site-bound role at all.
    assert not {"audit", "sig", "lock", "mmrm"} & {d.code for d in datasets_for(site_world.coordinator_a)}
    assert {"audit", "dm"} <= {d.code for d in datasets_for(users["datamanager"])}


def test_a_coordinator_cannot_screen_at_another_site(client: Any, site_world: Any) -> None:
    from trial.participants.models import Participant
    from trial.participants.services import participant_screen

    client.force_login(site_world.coordinator_a)
    form = client.get("/participants/screen/").context["form"]
    assert [s.code for s in form.fields["site"].queryset] == [site_world.site_a.code]
    before = Participant.objects.count()
    data = {k: ("True" if v is True else "False" if v is False else v) for k, v in ELIGIBLE_SCREENING.items()}
    data |= {"site": site_world.site_b.code, "sex": "F", "date_of_birth": "1980-01-15", "action": "save"}
    response = client.post("/participants/screen/", data)
    assert response.status_code == 200 and "site" in response.context["form"].errors
    assert Participant.objects.count() == before
    with pytest.raises(PermissionDenied):
        participant_screen(
            site=site_world.site_b,
            sex="F",
            date_of_birth=site_world.a.date_of_birth,
            screening=ELIGIBLE_SCREENING,
            by=site_world.coordinator_a,
        )


def test_services_refuse_another_sites_participant(site_world: Any) -> None:
    from trial.participants.services import consent_record
    from trial.workspace.services import participant_enrol

    with pytest.raises(PermissionDenied):
        consent_record(participant=site_world.b, consent_date=site_world.a.date_of_birth, by=site_world.coordinator_a)
    with pytest.raises(PermissionDenied):
        participant_enrol(participant=site_world.b, by=site_world.coordinator_a)


def test_an_investigator_of_one_site_cannot_sign_another_sites_casebook(site_world: Any, bound: Any) -> None:
    from trial.closeout.services import casebook_sign
    from trial.core.roles import Role

    investigator = bound("investigator-a", Role.INVESTIGATOR, [site_world.site_a])
    with pytest.raises(PermissionDenied):
        casebook_sign(participant=site_world.b, by=investigator, username="investigator-a", password="x")


def test_a_monitor_sees_only_the_sites_assigned_to_them(site_world: Any, bound: Any) -> None:
    from trial.core.roles import Role
    from trial.participants.scope import participants_for

    monitor = bound("monitor-b", Role.MEDICAL_MONITOR, [site_world.site_b, site_world.site_c])
    assert list(participants_for(monitor)) == [site_world.b]


def test_a_pharmacist_of_one_site_prepares_for_that_site_only(site_world: Any, bound: Any) -> None:
    from trial.core.roles import Role
    from trial.pharmacy.selectors import infusion_queue

    pharmacist = bound("pharmacist-a", Role.PHARMACIST, [site_world.site_a])
    assert {row.participant_id for row in infusion_queue(user=pharmacist)} == {site_world.a.participant_id}


@pytest.mark.parametrize("username", ["datamanager", "statistician", "unblinded", "dsmb", "admin"])
def test_trial_wide_roles_see_every_site(site_world: Any, users: dict[str, Any], username: str) -> None:
    from trial.participants.models import SiteMembership
    from trial.participants.scope import participants_for

    # Even without a membership: the role is trial-wide.
    SiteMembership.objects.filter(user=users[username]).update(revoked_at=site_world.a.created_at)
    user = type(users[username]).objects.get(pk=users[username].pk)
    assert set(participants_for(user)) == {site_world.a, site_world.b}


def test_a_site_bound_user_without_a_site_sees_no_participant(client: Any, site_world: Any, bound: Any) -> None:
    from trial.core.roles import Role
    from trial.participants.scope import participants_for

    nobody = bound("coordinator-nowhere", Role.COORDINATOR, [])
    assert not participants_for(nobody).exists()
    client.force_login(nobody)
    assert site_world.a.participant_id not in client.get("/participants/").content.decode()
    assert client.get(f"/participants/{site_world.a.participant_id}/").status_code == 404
    assert client.get("/api/participants/").json()["count"] == 0


def test_the_admin_shows_no_record_of_another_site(client: Any, site_world: Any) -> None:
    client.force_login(site_world.coordinator_a)
    listing = client.get("/admin/participants/participant/").content.decode()
    assert site_world.a.participant_id in listing and site_world.b.participant_id not in listing
    history = client.get(f"/admin/participants/participant/{site_world.b.pk}/history/")
    assert history.status_code == 404
