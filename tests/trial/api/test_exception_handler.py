"""The one exception handler of the API, without HTTP: each refusal of the services as its status."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import OperationalError

from trial.core.api import api_exception_handler
from trial.core.services import RecordLockedError, VersionMissingError


def test_it_maps_each_refusal_to_its_status() -> None:
    locked = api_exception_handler(RecordLockedError("The study database is locked."), {})
    assert locked is not None and locked.status_code == 423 and locked.data["code"] == "locked"
    missing = api_exception_handler(VersionMissingError("Send the version.", current_version=4), {})
    assert missing is not None and missing.status_code == 409 and missing.data["current_version"] == 4
    busy = api_exception_handler(OperationalError("database is locked"), {})
    assert busy is not None and busy.status_code == 503


def test_validation_messages_are_per_field_with_the_record_under_non_field_errors() -> None:
    response = api_exception_handler(ValidationError({"reason": "Give a reason.", "__all__": "Not now."}), {})
    assert response is not None and response.status_code == 400
    assert response.data == {"reason": ["Give a reason."], "non_field_errors": ["Not now."]}
    plain = api_exception_handler(ValidationError("This visit is recorded as missed."), {})
    assert plain is not None and plain.data == {"non_field_errors": ["This visit is recorded as missed."]}


def test_an_unknown_exception_is_left_to_drf() -> None:
    assert api_exception_handler(KeyError("x"), {}) is None
