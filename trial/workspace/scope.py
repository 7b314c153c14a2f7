"""The one enforcement point for a participant's record reached through a URL, on pages and in the API.

Which sites a user may reach is `trial.participants.scope`'s call. Here every URL that names a
participant, or a record of one (a visit, a preparation, a query, an adverse event, a code break),
is resolved to that participant's site before the view runs; out of reach, the answer is 404 as if
the record did not exist (ICH E6(R3) section 2 and 21 CFR 11.10(d): site staff reach their own
site's records; a 403 would confirm that the id is in use elsewhere). Lists are filtered in their
selectors instead. It sits in this layer because it must know the models of every app below it.

Pages: `SiteScopeMiddleware` (settings.MIDDLEWARE), after authentication. API: the same check as a
DRF permission (`SiteScopePermission`, a default permission class), because a token-authenticated
request is only authenticated inside the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission

from trial.participants import scope
from trial.participants.models import Participant
from trial.pharmacy.models import Preparation
from trial.queries.models import DataQuery
from trial.randomization.models import CodeBreak
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.visits.models import Visit

_SITE = "participant__site_id"
# URL names whose `pk` is a participant's record, with the path from that record to the site.
_BY_PK: dict[tuple[str, str], tuple[type[Model], str]] = {
    ("pharmacy", "preparation"): (Preparation, "visit__participant__site_id"),
    ("pharmacy", "label"): (Preparation, "visit__participant__site_id"),
    ("pharmacy", "dispense"): (Preparation, "visit__participant__site_id"),
    ("pharmacy", "waste"): (Preparation, "visit__participant__site_id"),
    ("queries", "detail"): (DataQuery, _SITE),
    ("randomization", "code_break_detail"): (CodeBreak, _SITE),
    ("randomization", "code_break_decide"): (CodeBreak, _SITE),
    ("randomization", "code_break_review"): (CodeBreak, _SITE),
    ("safety", "ae_edit"): (AdverseEvent, _SITE),
    ("safety", "ae_code"): (AdverseEvent, _SITE),
    ("safety", "conmed_edit"): (ConcomitantMedication, _SITE),
    ("safety", "deviation_edit"): (ProtocolDeviation, _SITE),
    # The REST API's write endpoints (trial.api_urls, no namespace).
    ("", "api-adverse-event-update"): (AdverseEvent, _SITE),
    ("", "api-conmed-update"): (ConcomitantMedication, _SITE),
}
# Every `pk` in the visits namespace is a visit (the visit page, its CRFs, its blank CRFs).
_PK_NAMESPACES: dict[str, tuple[type[Model], str]] = {"visits": (Visit, _SITE)}

_NOT_NAMED = object()


def url_site_id(namespace: str, url_name: str, kwargs: Mapping[str, Any]) -> Any:
    """The site id of the participant the URL names; None if it names one that does not exist (the
    view answers 404 itself); `_NOT_NAMED` if it names no participant."""
    model: type[Model]
    if "participant_id" in kwargs:
        model, path, lookup = Participant, "site_id", {"participant_id": kwargs["participant_id"]}
    elif "participant_pk" in kwargs:
        model, path, lookup = Participant, "site_id", {"pk": kwargs["participant_pk"]}
    elif "visit_pk" in kwargs:
        model, path, lookup = Visit, _SITE, {"pk": kwargs["visit_pk"]}
    elif "pk" in kwargs and ((namespace, url_name) in _BY_PK or namespace in _PK_NAMESPACES):
        model, path = _BY_PK.get((namespace, url_name)) or _PK_NAMESPACES[namespace]
        lookup = {"pk": kwargs["pk"]}
    else:
        return _NOT_NAMED
    try:
        return model._default_manager.filter(**lookup).values_list(path, flat=True).first()
    except (ValueError, TypeError):  # a malformed id names nothing
        return None


def url_reach_check(user: Any, namespace: str, url_name: str, kwargs: Mapping[str, Any]) -> None:
    """Raise 404 if the URL names a participant out of this user's reach."""
    if scope.site_ids_for(user) is None:
        return  # a trial-wide role: no query at all
    site_id = url_site_id(namespace, url_name, kwargs)
    if site_id is _NOT_NAMED or site_id is None:
        return
    if not scope.may_reach_site(user, site_id):
        raise Http404(scope.NOT_FOUND)


class SiteScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]) -> None:
        user = getattr(request, "user", None)
        match = request.resolver_match
        if user is None or not user.is_authenticated or match is None:
            return None  # the login redirect, or the API's own authentication, comes first
        if hasattr(view, "cls"):  # DRF's as_view marks its views so; importing APIView here would be circular
            return None  # the API answers with its own 404 (JSON), from SiteScopePermission
        url_reach_check(user, match.namespace, match.url_name or "", kwargs)
        return None


class SiteScopePermission(BasePermission):
    """DRF: the same check, once the API request is authenticated (session or token)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        match = getattr(request, "resolver_match", None)
        if request.user and request.user.is_authenticated and match is not None:
            url_reach_check(request.user, match.namespace, match.url_name or "", view.kwargs)
        return True


def site_path(model: type[Model]) -> str | None:
    """The path from a record to its participant's site, or None if it belongs to no participant."""
    if model is Participant:
        return "site"
    names = {f.name for f in model._meta.get_fields()}
    if "participant" in names:
        return "participant__site"
    if "visit" in names:
        return "visit__participant__site"
    return None


def admin_queryset_scope(request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The admin's lists and object pages (registered in trial.core.admin): another site's record is
    absent from the list and its page answers like a record that does not exist."""
    path = site_path(queryset.model)
    if path is None:
        return queryset
    return queryset.filter(scope.site_filter(request.user, path))
