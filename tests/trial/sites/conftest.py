"""A three-site trial (protocols/infliximab_trd_dose.toml) with one randomized participant at each of
the first two sites, and users bound to sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from tests.conftest import PROTOCOL_DIR

THREE_SITES = PROTOCOL_DIR / "infliximab_trd_dose.toml"


@dataclass
class SiteWorld:
    site_a: Any
    site_b: Any
    site_c: Any
    a: Any  # a randomized participant at site A
    b: Any  # a randomized participant at site B
    visit_b: Any
    ae_b: Any
    query_b: Any
    coordinator_a: Any  # a coordinator of site A only


@pytest.fixture
def protocol_file(settings: Any) -> Any:
    settings.STRATUM_PROTOCOL_FILE = THREE_SITES
    return THREE_SITES


@pytest.fixture
def bound(users: dict[str, Any], protocol_loaded: Any) -> Any:
    """`bound("name", Role.X, [sites])`: an account with one role, a member of those sites only."""
    from trial.accounts.users import user_create_with_role

    def make(username: str, role: Any, sites: list[Any]) -> Any:
        return user_create_with_role(username=username, role=role, password="x", sites=sites)

    return make


@pytest.fixture
def site_world(users: dict[str, Any], make_participant: Any, active_list: Any, bound: Any) -> SiteWorld:
    from trial.core.roles import Role
    from trial.protocol.models import Site
    from trial.queries.services import query_open
    from trial.safety.services import adverse_event_record
    from trial.workspace.services import participant_enrol

    site_a, site_b, site_c = Site.objects.order_by("code")
    a = make_participant(at_site=site_a)
    b = make_participant(at_site=site_b, sex="M")
    for p in (a, b):
        participant_enrol(participant=p, by=users["coordinator"])
        p.refresh_from_db()
    visit_b = b.visits.order_by("definition__week").first()
    ae_b = adverse_event_record(
        participant=b,
        by=users["coordinator"],
        data={
            "term": "Headache",
            "onset_date": date.today(),
            "ongoing": True,
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
    )
    query_b = query_open(
        participant=b, visit=visit_b, form="vitals", field="weight_kg", text="Confirm?", by=users["datamanager"]
    )
    return SiteWorld(
        site_a=site_a,
        site_b=site_b,
        site_c=site_c,
        a=a,
        b=b,
        visit_b=visit_b,
        ae_b=ae_b,
        query_b=query_b,
        coordinator_a=bound("coordinator-a", Role.COORDINATOR, [site_a]),
    )
