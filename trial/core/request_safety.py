"""Requests that must never reach a view as a server error.

- A NUL byte in the path, a query parameter or the credentials cannot be stored or compared by
  PostgreSQL (it raises DataError). Nothing in the trial legitimately contains one, so the request is
  refused with 400 before any view or authentication backend sees it. (Form fields refuse NUL with a
  message next to the field: Django's ProhibitNullCharactersValidator.)
- A database that is busy (SQLite's write lock held past the busy timeout) or a connection that
  dropped mid-request is a temporary condition, not a fault of the request: 503 with "try again", so
  the user knows nothing was saved (21 CFR Part 11: no silent loss of an entry).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.response import SimpleTemplateResponse

log = logging.getLogger("stratum")

BUSY_MESSAGE = "The database is busy. Nothing was saved: please try again in a moment."


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            return True
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if "\x00" in auth:
        return True
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "basic" and token:
        try:
            decoded = base64.b64decode(token.strip(), validate=False)
        except (binascii.Error, ValueError):
            return False
        return b"\x00" in decoded
    return False


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError)


def busy_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": BUSY_MESSAGE}, status=503, headers={"Retry-After": "5"})
    # A page of its own, without the site's menus: they would ask the database again.
    response = SimpleTemplateResponse("core/busy.html", {"message": BUSY_MESSAGE}, status=503)
    response["Retry-After"] = "5"
    return response.render()


class RequestSafetyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return HttpResponseBadRequest("Bad request: the address or credentials contain a NUL character.")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_busy(exception):
            log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
            return busy_response(request)
        return None
