"""Session and response controls that apply to every request.

- `IdleTimeoutMiddleware`: a session unused for `STRATUM_IDLE_TIMEOUT_SECONDS` is ended before the
  request is served (21 CFR 11.300(d) and FDA's Part 11 guidance: an unattended session must not
  stay open for someone else to use). The page warns before it happens (static/js/stratum.js).
- `NoStoreMiddleware`: nothing a logged-in user sees, and no API response, may be kept by a browser
  or proxy cache, where the next user of a shared ward computer could read it back (21 CFR 11.10(d),
  limiting access; ICH E6(R3) on keeping the blind).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control

LAST_ACTIVITY_KEY = "stratum_last_activity"
# Writing the session on every request would cost a database write per page; a minute's
# granularity is far below the timeout.
_TOUCH_EVERY_SECONDS = 60

IDLE_LOGOUT_MESSAGE = "You were logged out after {minutes} minutes without activity. Please log in again."


def session_touch(request: HttpRequest) -> None:
    """Record activity now (also called by the "stay logged in" button's endpoint)."""
    request.session[LAST_ACTIVITY_KEY] = int(timezone.now().timestamp())


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(timezone.now().timestamp())
            last = request.session.get(LAST_ACTIVITY_KEY)
            timeout = int(settings.STRATUM_IDLE_TIMEOUT_SECONDS)
            if isinstance(last, int) and now - last > timeout:
                request.stratum_logout_reason = "idle timeout"  # type: ignore[attr-defined]  # read by the access log
                logout(request)
                messages.info(request, IDLE_LOGOUT_MESSAGE.format(minutes=timeout // 60))
            elif not isinstance(last, int) or now - last >= _TOUCH_EVERY_SECONDS:
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith("/api/"):
            patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        return response
