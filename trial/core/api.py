"""What every write endpoint of the REST API shares: one exception handler that turns the services'
refusals into status codes, the write throttle, the documented error responses, and validation of a
request body by the web page's own Django form.

The write endpoints call the same services as the web forms, so a refusal arrives as the same
exception the form page shows next to its fields; here it becomes:

- 400: validation (the form's or the service's per-field messages, `{"field": ["message"]}`; a
  message about the whole record is under `non_field_errors`);
- 409: the record changed since the version the client started from, or an edit did not say which
  version it started from (optimistic concurrency; 21 CFR 11.10(e): no silent overwrite);
- 423: the database, the casebook or the form is locked or frozen (ICH E6(R3): locked data are final);
- 503: the database was busy past its timeout; nothing was saved (as on the web form).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView, exception_handler

from trial.core.parsers import SafeJSONParser
from trial.core.request_safety import BUSY_MESSAGE
from trial.core.services import ConflictError, RecordLockedError, VersionMissingError

logger = logging.getLogger(__name__)

WRITE_SCOPE = "api-write"
HTTP_423_LOCKED = 423

Errors = dict[str, list[str]]


def _flatten(detail: Any, prefix: str = "") -> Errors:
    """DRF's nested error detail ({"results": [{"value": [...]}]}) as flat field paths ("results[0].value")."""
    out: Errors = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if isinstance(key, int) or str(key).isdigit():  # a list serializer's errors, by row
                out |= _flatten(value, f"{prefix}[{key}]")
                continue
            name = api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else str(key)
            out |= _flatten(value, f"{prefix}.{name}" if prefix else name)
    elif isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        out[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(d) for d in detail]
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            out |= _flatten(value, f"{prefix}[{i}]")
    elif detail is not None:
        out[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(detail)]
    return out


def django_errors(exc: DjangoValidationError) -> Errors:
    """A service's or a form's ValidationError as {field: [messages]}."""
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name): [
                m for error in errors for m in error.messages
            ]
            for name, errors in exc.error_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: list(exc.messages)}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]: the services' exceptions as status codes."""
    # Subclasses of ValidationError first: a lock and a missing version are not "bad input".
    if isinstance(exc, RecordLockedError):
        return Response({"detail": " ".join(exc.messages), "code": "locked"}, status=HTTP_423_LOCKED)
    if isinstance(exc, VersionMissingError):
        body: dict[str, Any] = {"detail": " ".join(exc.messages), "code": "version_missing"}
        if exc.current_version is not None:
            body["current_version"] = exc.current_version
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ConflictError):
        return Response(
            {"detail": str(exc), "code": "conflict", "current_version": exc.current.version},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        return Response(django_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError):
        # The write lock was held past the busy timeout (SQLite) or the connection dropped: the
        # transaction rolled back, as on the web form (trial.core.views.RecordFormView). Logged, so
        # an operator sees a database that is busy often, or not there.
        logger.warning("API request refused, database busy or unreachable: %s", exc)
        return Response({"detail": BUSY_MESSAGE, "code": "busy"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, exceptions.ValidationError):
        return Response(_flatten(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)


class WriteApi(APIView):
    """Base of every write endpoint: JSON bodies only, and the `api-write` throttle. Its permissions
    are the defaults: the view's capability (as on the web page), the site scope, and 423 while the
    database is locked (trial.access.WritesOpenPermission)."""

    parser_classes = [SafeJSONParser]
    throttle_scope = WRITE_SCOPE

    def get_throttles(self) -> list[Any]:
        return [WriteThrottle()]


class WriteThrottle(ScopedRateThrottle):
    """ScopedRateThrottle that reads its rate when asked, not once at import, so a deployment (or a
    test) that changes REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] is obeyed. Counts live in the default
    cache: per process unless CACHES points at Redis (trial.settings.production)."""

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for the scope {self.scope!r}.")
        rate = rates[self.scope]
        return None if rate is None else str(rate)


_FIELD_ERRORS = {
    "type": "object",
    "description": "Per-field messages; messages about the whole record are under `non_field_errors`.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
_DETAIL = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "current_version": {"type": "integer"},
    },
    "required": ["detail"],
}


def write_responses(output: Any, *, created: bool = False, also_ok: bool = False) -> dict[int, Any]:
    """The responses of a write endpoint, for drf-spectacular's `extend_schema(responses=...)`."""
    ok: dict[int, Any] = {status.HTTP_201_CREATED: output} if created else {status.HTTP_200_OK: output}
    if also_ok:
        ok[status.HTTP_200_OK] = output
    return ok | {
        status.HTTP_400_BAD_REQUEST: OpenApiResponse(_FIELD_ERRORS, description="Validation failed."),
        status.HTTP_403_FORBIDDEN: OpenApiResponse(_DETAIL, description="Your role may not do this."),
        status.HTTP_404_NOT_FOUND: OpenApiResponse(_DETAIL, description="No such record within your reach."),
        status.HTTP_409_CONFLICT: OpenApiResponse(
            _DETAIL, description="The record changed after the version you sent, or the version is missing."
        ),
        HTTP_423_LOCKED: OpenApiResponse(_DETAIL, description="The database, casebook or form is locked."),
        status.HTTP_429_TOO_MANY_REQUESTS: OpenApiResponse(_DETAIL, description="Too many writes; retry later."),
    }


def form_clean(
    form_class: type[forms.Form], data: Mapping[str, Any], *, facts: Mapping[str, Any] | None = None, **kwargs: Any
) -> forms.Form:
    """Validate a request body with the web page's own form (its fields and its rules), so the web
    and the API cannot disagree; raise the form's per-field errors as a 400 (api_exception_handler).

    `data`: the Input serializer's validated data, keyed by the form's field names (a value the form
    shows as yes/no radio buttons may be a boolean). `facts`: the values the form's rules read that
    are not typed (RecordForm.facts, a participant's timeline), as the web page passes them.
    """
    fields = form_class(**kwargs).fields
    bound: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, bool) and isinstance(fields.get(name), forms.TypedChoiceField):
            bound[name] = "yes" if value else "no"
        else:
            bound[name] = "" if value is None else value
    form = form_class(data=bound, **kwargs)
    if facts is not None and hasattr(form, "facts"):
        form.facts = facts
    if not form.is_valid():
        raise DjangoValidationError({name: list(messages) for name, messages in form.errors.items()})
    return form
