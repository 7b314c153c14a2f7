"""The one module that decides which sites' participants a user may reach (like `trial.blinding`
decides the arm). Every surface asks here; none filters by site on its own.

The rule:
- site-bound roles (coordinator, rater, investigator, pharmacist, medical monitor) see and enter
  only the participants of the sites they are members of (`SiteMembership`, granted by an
  administrator); a monitor, the sites assigned to them. ICH E6(R3) section 2: an investigator
  answers for the conduct of the trial at their own site and for its participants' records, and the
  staff they delegate to act for that site only; section 4 (data governance) and 21 CFR 11.10(d):
  access to trial data is limited to authorised people and to what their role needs (need to know).
- trial-wide roles (data manager, the statisticians, DSMB, administrator) see every site: their
  work (queries, cleaning, analysis, oversight, accounts) is across sites.
- a user holding both kinds sees every site (the trial-wide role's need covers the other's).
- a site-bound user with no membership sees no participant: the safe default, never "all".

A participant out of reach is answered as if it did not exist (404, never 403), so a page does not
confirm that an id is used at another site. The page and API enforcement point for objects reached
through a URL is `trial.workspace.scope`; lists filter with `site_filter` in their selectors, one
filter per queryset, never a check per row.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from trial.core.roles import Role, user_roles
from trial.core.types import Actor
from trial.participants.models import Participant, SiteMembership
from trial.protocol.models import Site

SITE_BOUND_ROLES = frozenset({Role.COORDINATOR, Role.RATER, Role.INVESTIGATOR, Role.PHARMACIST, Role.MEDICAL_MONITOR})
TRIAL_WIDE_ROLES = frozenset(Role) - SITE_BOUND_ROLES

NOT_FOUND = "No such participant."


def sees_all_sites(user: Actor | None) -> bool:
    return bool(user_roles(user) & TRIAL_WIDE_ROLES)


def site_ids_for(user: Actor | None) -> frozenset[int] | None:
    """The ids of the sites this user may reach, or None for every site."""
    if sees_all_sites(user):
        return None
    if user is None or not user.is_authenticated:
        return frozenset()
    # Cached on the user object for the request, like its roles: a page asks many times.
    cached: frozenset[int] | None = getattr(user, "_stratum_site_ids", None)
    if cached is None:
        cached = frozenset(
            SiteMembership.objects.filter(user=user, revoked_at__isnull=True).values_list("site_id", flat=True)
        )
        setattr(user, "_stratum_site_ids", cached)  # noqa: B010 - not a declared attribute of User, on purpose
    return cached


def site_ids_forget(user: Any) -> None:
    """After a grant or revoke, so the same user object does not keep the old answer."""
    if hasattr(user, "_stratum_site_ids"):
        delattr(user, "_stratum_site_ids")


def site_filter(user: Actor | None, path: str = "site") -> Q:
    """A filter for any queryset that reaches a site through `path` (e.g. "participant__site")."""
    ids = site_ids_for(user)
    if ids is None:
        return Q()
    # An empty list makes the queryset empty without a query.
    return Q(**{f"{path}__in": sorted(ids)})


def sites_for(user: Actor | None) -> QuerySet[Site]:
    """The sites this user may choose (e.g. where to screen someone)."""
    return Site.objects.filter(site_filter(user, "pk")).order_by("code")


def participants_for(user: Actor | None) -> QuerySet[Participant]:
    return Participant.objects.active().filter(site_filter(user))


def may_reach_site(user: Actor | None, site_id: int | None) -> bool:
    ids = site_ids_for(user)
    return ids is None or site_id in ids


def may_reach(user: Actor | None, participant: Any) -> bool:
    return may_reach_site(user, getattr(participant, "site_id", None))


def reach_or_404(user: Actor | None, participant: Any) -> Any:
    """The participant, or 404 as if it did not exist."""
    if participant is None or not may_reach(user, participant):
        raise Http404(NOT_FOUND)
    return participant


def site_require(user: Actor | None, site: Any) -> None:
    """For services that create a participant at a site (screening): refuse a site out of reach."""
    if not may_reach_site(user, getattr(site, "pk", None)):
        raise PermissionDenied("You may not enter data at this site.")


def participant_require(user: Actor | None, participant: Any) -> None:
    """For services about one participant. Pages and the API answer 404 before a service runs
    (trial.workspace.scope); this is the second line, for scripts and any path that skips them."""
    if not may_reach(user, participant):
        raise PermissionDenied(NOT_FOUND)
