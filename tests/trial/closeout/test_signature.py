"""The investigator's e-signature (21 CFR 11.50, 11.70, 11.100, 11.200)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.trial.closeout.conftest import sign
from trial.closeout.models import Signature
from trial.closeout.selectors import casebook_status
from trial.closeout.services import casebook_sign
from trial.closeout.units import casebook_records, casebook_sha256


def test_it_records_meaning_printed_name_utc_time_and_the_content_hash(
    closed_participant: Any, users: dict[str, Any]
) -> None:
    investigator = users["investigator"]
    signature = sign(closed_participant, investigator)
    assert signature.meaning == "I have reviewed and approve these data"
    assert signature.printed_name == (investigator.get_full_name() or investigator.username)
    assert signature.signed_at.utcoffset().total_seconds() == 0
    expected = casebook_sha256(casebook_records(closed_participant))
    assert signature.content_sha256 == expected and len(expected) == 64
    int(expected, 16)  # a SHA-256 hex digest
    assert casebook_status(closed_participant).signature_valid


def test_a_wrong_password_signs_nothing(closed_participant: Any, users: dict[str, Any]) -> None:
    investigator = users["investigator"]
    with pytest.raises(ValidationError, match="not correct"):
        casebook_sign(participant=closed_participant, by=investigator, username=investigator.username, password="x")
    assert not Signature.objects.exists()


def test_no_one_signs_with_another_persons_user_name(closed_participant: Any, users: dict[str, Any]) -> None:
    from trial.accounts.users import DEMO_PASSWORD

    with pytest.raises(ValidationError, match="not correct"):
        casebook_sign(
            participant=closed_participant, by=users["investigator"], username="coordinator", password=DEMO_PASSWORD
        )


def test_only_the_investigator_signs(closed_participant: Any, users: dict[str, Any]) -> None:
    from trial.accounts.users import DEMO_PASSWORD

    with pytest.raises(PermissionDenied):
        casebook_sign(
            participant=closed_participant, by=users["coordinator"], username="coordinator", password=DEMO_PASSWORD
        )


def test_a_change_after_signing_voids_the_signature(closed_participant: Any, users: dict[str, Any]) -> None:

    from tests.trial.closeout.test_form_freeze import _new_ae

    signature = sign(closed_participant, users["investigator"])
    _new_ae(closed_participant, users["coordinator"])
    signature.refresh_from_db()
    assert signature.void_reason == "void: data changed after signing"
    status = casebook_status(closed_participant)
    assert not status.signature_valid and status.due_for_signing
    assert any("signed again" in b for b in status.blockers)
    assert signature.content_sha256 != status.sha256


def test_a_signature_is_never_deleted(closed_participant: Any, users: dict[str, Any]) -> None:
    signature = sign(closed_participant, users["investigator"])
    with pytest.raises(PermissionError):
        signature.delete()
    assert signature.history.count() == 1  # in the audit trail


def test_the_signature_shows_on_the_participant_page(
    closed_participant: Any, users: dict[str, Any], login: Any
) -> None:
    sign(closed_participant, users["investigator"])
    page = login("coordinator").get(f"/participants/{closed_participant.participant_id}/").content.decode()
    assert "I have reviewed and approve these data" in page
    assert casebook_status(closed_participant).sha256 in page


def test_signatures_are_exported_with_their_manifestation(
    closed_participant: Any, users: dict[str, Any], login: Any
) -> None:
    signature = sign(closed_participant, users["investigator"])
    assert login("coordinator").get("/closeout/signatures.csv").status_code == 403
    body = login("datamanager").get("/closeout/signatures.csv").content.decode()
    assert signature.content_sha256 in body and signature.printed_name in body
    assert "I have reviewed and approve these data" in body and ",valid" in body
