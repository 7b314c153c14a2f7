"""The access audit log: one service that writes it, and the hooks for authentication events.

21 CFR 11.10(e): computer-generated, time-stamped records of who did what; 11.300(d): attempts at
unauthorised use are recorded. Services of every app call `access_event_record`; the log sits in
trial.core so that any layer may write to it. Reading it is `trial.access.Capability.VIEW_ACCESS_LOG`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from trial.core.models import AccessEvent, User

log = logging.getLogger("stratum.access")

Kind = AccessEvent.Kind
_ALERTING = frozenset(
    {
        Kind.LOGIN_FAILED,
        Kind.LOCKED_OUT,
        Kind.TWO_FACTOR_FAILED,
        Kind.UNBLINDING,
        Kind.ROLE_GRANTED,
        Kind.ROLE_REVOKED,
    }
)


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR only: a client can write any X-Forwarded-For it likes. Behind a proxy, production
    # sets the proxy to overwrite REMOTE_ADDR (README, deployment).
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def access_event_record(
    *,
    kind: str,
    user: Any = None,
    username: str = "",
    ip_address: str = "",
    target: str = "",
    detail: dict[str, Any] | str = "",
) -> AccessEvent:
    """Append one event. `detail` must never name a treatment arm: the log is read by blinded staff."""
    acting = user if isinstance(user, User) else None
    event = AccessEvent(
        at=timezone.now(),
        kind=kind,
        user=acting,
        username=username or (acting.get_username() if acting else ""),
        ip_address=ip_address,
        target=target[:200],
        detail=detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True, default=str),
    )
    event.full_clean()
    event.save()
    # The security-relevant ones also go to the server log, where monitoring can alert on them.
    level = logging.WARNING if kind in _ALERTING else logging.DEBUG
    log.log(level, "access %s user=%s ip=%s target=%s", kind, event.username, ip_address, target)
    return event


# --- Hooks (connected in trial.core.apps.CoreConfig.ready) -------------------------------------
# Authentication happens inside django.contrib.auth and django-axes, whose signals are the only
# place every login, logout and failure passes, whichever door (page, admin, API session) was used.


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    access_event_record(kind=Kind.LOGIN, user=user, ip_address=client_ip(request))


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    reason = getattr(request, "stratum_logout_reason", "") if request is not None else ""
    access_event_record(kind=Kind.LOGOUT, user=user, ip_address=client_ip(request), detail=reason)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django masks the password in `credentials`; only the typed username is kept. A sign-in that is
    # not a login (a second person's signature, e.g. the pharmacy's second check) names its purpose.
    access_event_record(
        kind=Kind.LOGIN_FAILED,
        username=str(credentials.get("username", ""))[:150],
        ip_address=client_ip(request),
        detail=str(kwargs.get("purpose", "")),
    )


def on_locked_out(
    sender: Any, request: HttpRequest | None, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    access_event_record(
        kind=Kind.LOCKED_OUT, username=(username or "")[:150], ip_address=ip_address or client_ip(request)
    )


# Who is changing roles right now. The many-to-many signal below carries no request, so the screen
# that changes roles (the user admin) names its signed-in user here; the event then records who
# granted, not only what (21 CFR 11.10(e): the audit trail names the person who acted).
_role_actor: ContextVar[User | None] = ContextVar("stratum_role_actor", default=None)
NO_ACTOR = "no signed-in user: a script or the shell"


@contextmanager
def role_actor(user: Any) -> Iterator[None]:
    token = _role_actor.set(user if isinstance(user, User) else None)
    try:
        yield
    finally:
        _role_actor.reset(token)


def on_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, model: Any, **kwargs: Any
) -> None:
    """Role grants and revocations, whichever screen or script made them, from either side of the
    relation (`user.groups.add(...)` or `group.user_set.add(...)`)."""
    if action == "pre_clear":
        # A clear() removes every role; after it there is nothing left to name.
        pk_set = set(getattr(instance, "user_set" if reverse else "groups").values_list("pk", flat=True))
        kind = Kind.ROLE_REVOKED
    elif action in ("post_add", "post_remove"):
        kind = Kind.ROLE_GRANTED if action == "post_add" else Kind.ROLE_REVOKED
    else:
        return
    if not pk_set:
        return
    actor = _role_actor.get()
    detail = "" if actor is not None else NO_ACTOR
    if reverse:  # instance is a Group, pk_set holds users
        for username in User.objects.filter(pk__in=pk_set).order_by("username").values_list("username", flat=True):
            access_event_record(kind=kind, user=actor, target=f"user {username}, role {instance.name}", detail=detail)
    else:
        names = model.objects.filter(pk__in=pk_set).order_by("name").values_list("name", flat=True)
        for name in names:
            target = f"user {instance.get_username()}, role {name}"
            access_event_record(kind=kind, user=actor, target=target, detail=detail)


# --- Reading ----------------------------------------------------------------------------------


def access_events(*, kind: str = "", username: str = "") -> Any:
    """Newest first, optionally one kind and one user name (the actor, or the name typed at a failure)."""
    qs = AccessEvent.objects.select_related("user").order_by("-at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    if username:
        qs = qs.filter(username=username)
    return qs
