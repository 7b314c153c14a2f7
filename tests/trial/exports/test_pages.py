"""The exports page, the codebook, API tokens and `manage.py export`: what a user notices."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.core.management import call_command

from tests.trial.exports.conftest import unzip
from trial.core.models import AccessEvent


def test_the_nav_links_to_exports_for_the_roles_that_may_export(login: Any, randomized: Any) -> None:
    assert 'href="/exports/"' in login("datamanager").get("/").content.decode()
    assert 'href="/exports/"' not in login("coordinator").get("/").content.decode()


def test_the_page_exports_the_chosen_datasets_as_a_zip_with_a_manifest_and_logs_it(
    login: Any, randomized: Any, export_on_page: Any
) -> None:
    client = login("statistician")
    page = client.get("/exports/").content.decode()
    assert 'value="hamd"' in page and 'value="pharm"' not in page and "include_arm" not in page
    _job, response = export_on_page(client, {"datasets": ["dm", "hamd"], "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    files = unzip(b"".join(response.streaming_content))
    assert sorted(files) == ["codebook.csv", "dm.csv", "hamd.csv", "manifest.json"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["made_by"] == "statistician"
    assert manifest["database_state"]["database_locked"] is False
    dm = list(csv.DictReader(io.StringIO(files["dm.csv"].decode())))
    assert [r["SUBJID"] for r in dm] == [randomized.participant_id]
    event = AccessEvent.objects.filter(kind=AccessEvent.Kind.EXPORT).latest("at")
    assert event.username == "statistician" and '"hamd"' in event.detail


def test_an_invalid_choice_is_explained_and_the_choices_are_kept(login: Any, randomized: Any) -> None:
    response = login("datamanager").post("/exports/", {"datasets": ["dm"], "format": "pdf"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Select a valid choice" in body
    # The input is kept: dm stays ticked, the others stay unticked.
    assert re.search(r'value="dm"[^>]*checked', body)
    assert not re.search(r'value="hamd"[^>]*checked', body)


def test_the_unblinded_statistician_is_offered_the_arm_and_the_pharmacy(
    login: Any, randomized: Any, export_on_page: Any
) -> None:
    page = login("unblinded").get("/exports/").content.decode()
    assert 'value="pharm"' in page and "include_arm" in page
    _job, response = export_on_page(login("unblinded"), {"datasets": ["dm"], "format": "csv", "include_arm": "on"})
    files = unzip(b"".join(response.streaming_content))
    assert "ARM" in files["dm.csv"].decode().splitlines()[0].split(",")
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.UNBLINDING, username="unblinded").exists()


def test_the_codebook_page_and_csv_come_from_the_same_dictionary(login: Any, protocol_loaded: Any) -> None:
    from trial.exports.dictionary import variables

    client = login("datamanager")
    page = client.get("/exports/codebook/").content.decode()
    rows = list(csv.DictReader(io.StringIO(client.get("/exports/codebook.csv").content.decode())))
    hamd_total = next(r for r in rows if r["dataset"] == "hamd" and r["name"] == "TOTAL")
    assert hamd_total["label"] == "HAM-D-17 total score" and hamd_total["type"] == "num"
    weight = next(r for r in rows if r["dataset"] == "vs" and r["name"] == "WEIGHT")
    assert weight["units"] == "kg"  # from the protocol file's [measures.weight_kg]
    assert len([r for r in rows if r["dataset"] == "hamd"]) == len(variables("hamd"))
    assert "HAM-D-17 total score" in page
    assert not any(r["dataset"] == "pharm" for r in rows)  # blinded: not even the pharmacy's column names


def test_a_token_is_shown_once_works_on_the_api_and_stops_when_revoked(
    login: Any, randomized: Any, client: Any
) -> None:
    from trial.exports.models import ApiToken

    page = login("statistician").post("/exports/tokens/", {"name": "nightly script"}).content.decode()
    key = page.split('id="new-token"')[1].split("<code>")[1].split("</code>")[0]
    token = ApiToken.objects.get(user__username="statistician")
    assert token.key_sha256 != key and key not in token.key_sha256  # only the digest is stored
    client.logout()
    assert client.get("/api/participants/").status_code == 403
    assert client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    login("statistician").post("/exports/tokens/", {"revoke": str(token.pk)})
    client.logout()
    assert client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {key}").status_code in {401, 403}
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by.username == "statistician"
    assert token.last_used_at is not None


def test_nobody_revokes_another_users_token(login: Any, users: Any) -> None:
    from trial.exports.models import ApiToken
    from trial.exports.services import api_token_create

    token, _key = api_token_create(by=users["statistician"], name="theirs")
    login("datamanager").post("/exports/tokens/", {"revoke": str(token.pk)})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_the_command_writes_the_same_files_and_manifest_as_the_page(randomized: Any, users: Any, tmp_path: Any) -> None:
    call_command("export", format="sav", out=str(tmp_path), username="datamanager", datasets="dm,hamd")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "dm.sav" in names and "hamd.sav" in names and "manifest.json" in names
    assert any(n.endswith(".zip") for n in names)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["made_by"] == "datamanager" and manifest["format"] == "sav"
    assert [d["code"] for d in manifest["datasets"]] == ["dm", "hamd"]


def test_every_admin_list_offers_export_selected_through_the_same_engine(
    login: Any, make_participant: Any, users: Any
) -> None:
    from trial.participants.models import Participant

    first, _second = make_participant(), make_participant()
    client = login("datamanager")
    changelist = "/admin/participants/participant/"
    assert "export_selected" in client.get(changelist).content.decode()
    response = client.post(changelist, {"action": "export_selected", "_selected_action": [first.pk]})
    assert response["Content-Type"] == "application/zip"
    dm = list(csv.DictReader(io.StringIO(unzip(response.content)["dm.csv"].decode())))
    assert [r["SUBJID"] for r in dm] == [Participant.objects.get(pk=first.pk).participant_id]
    # A role without the export capability gets the engine's refusal, not a file.
    refused = login("coordinator").post(changelist, {"action": "export_selected", "_selected_action": [first.pk]})
    assert refused.get("Content-Type", "").startswith("text/html")


def test_a_token_never_stands_in_for_a_second_factor_or_outlives_a_role_change_or_its_expiry(
    users: Any, client: Any, randomized: Any, settings: Any
) -> None:
    """21 CFR 11.300: an account that must give a second factor (unblinded roles, administrators,
    superusers) cannot use a token, which carries none; a token ends when its owner's roles change
    (a blinded user made unblinded would otherwise read arms with it) and when it expires."""
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from trial.core.roles import Role
    from trial.exports.models import ApiToken, roles_fingerprint, token_digest
    from trial.exports.services import ExportError, api_token_create

    settings.STRATUM_REQUIRE_TWO_FACTOR = True
    with pytest.raises(ExportError, match="second factor"):
        api_token_create(by=users["admin"], name="admin script")
    # A token row for such an account (made before the rule, or by hand) is refused at use.
    ApiToken.objects.create(
        user=users["unblinded"],
        name="old",
        key_prefix="unblinde",
        key_sha256=token_digest("unblinded-key"),
        created_at=timezone.now(),
        roles_at_issue=roles_fingerprint(users["unblinded"]),
    )
    assert client.get("/api/exports/pharm/", HTTP_AUTHORIZATION="Token unblinded-key").status_code in {401, 403}

    _token, key = api_token_create(by=users["datamanager"], name="nightly")
    assert client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    users["datamanager"].groups.add(Group.objects.get(name=Role.STATISTICIAN_UNBLINDED.value))
    assert client.get("/api/exports/pharm/", HTTP_AUTHORIZATION=f"Token {key}").status_code in {401, 403}
    users["datamanager"].groups.remove(Group.objects.get(name=Role.STATISTICIAN_UNBLINDED.value))

    token, key = api_token_create(by=users["statistician"], name="weekly")
    assert client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {key}").status_code in {401, 403}
