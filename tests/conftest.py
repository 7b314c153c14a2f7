"""Shared fixtures: the protocol loaded, one named user per role, and small builders.

Named users (tests read like the README): coordinator, rater, pharmacist, investigator,
datamanager, statistician (blinded), unblinded (statistician), dsmb, admin.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from trial.demo.examples import ELIGIBLE_SCREENING as EXAMPLE_SCREENING

# Every trial in protocols/: a protocol-dependent test runs once per file with
# `@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)` (or `pytestmark`).
PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "protocols"
PROTOCOL_FILES = [pytest.param(p, id=p.stem) for p in sorted(PROTOCOL_DIR.glob("*.toml"))]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The files holding a test marked `slow` run first, in their order, then the rest in theirs.

    The suite runs whole files per pytest-xdist worker (`--dist loadfile --no-loadscope-reorder`): the
    files that take minutes, handed out first, overlap with the many short ones, where one handed out
    last would keep a single core busy after the other is done. The order is the same on every worker,
    as xdist requires."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture
def protocol_file(request: Any, settings: Any) -> Path:
    """The protocol file in force for this test: the settings' (STRATUM_PROTOCOL), or the one a
    test is parametrized with, which then applies to every fixture and service of the test."""
    path = getattr(request, "param", None)
    if path is not None:
        settings.STRATUM_PROTOCOL_FILE = path
    return Path(settings.STRATUM_PROTOCOL_FILE)


@pytest.fixture
def protocol_loaded(db: Any, protocol_file: Path) -> Any:
    from trial.accounts.users import DEMO_USERS, site_memberships_ensure
    from trial.core.models import User
    from trial.protocol.selectors import protocol
    from trial.protocol.services import protocol_load

    loaded = protocol_load(config=protocol())
    # The named users are members of every site of the protocol in force, whichever fixture came first.
    for user in User.objects.filter(username__in=DEMO_USERS.values()):
        site_memberships_ensure(user, loaded.sites.all())
    return loaded


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    from trial.accounts.users import DEMO_USERS, SECOND_PHARMACIST, demo_users_ensure, second_pharmacist

    made = demo_users_ensure()
    return {DEMO_USERS[role]: user for role, user in made.items()} | {SECOND_PHARMACIST: second_pharmacist()}


def second_check_for(users: dict[str, Any], preparer: str = "pharmacist") -> Any:
    """The second pharmacist's signed check of a bag `preparer` makes (21 CFR 11.200(a))."""
    from trial.accounts.users import DEMO_PASSWORD, SECOND_PHARMACIST
    from trial.pharmacy.services import second_check_sign

    other = SECOND_PHARMACIST if preparer != SECOND_PHARMACIST else "pharmacist"
    return second_check_sign(by=users[preparer], username=other, password=DEMO_PASSWORD)


@pytest.fixture
def second_check(users: dict[str, Any]) -> Any:
    return second_check_for(users)


@pytest.fixture
def coordinator(users: dict[str, Any]) -> Any:
    return users["coordinator"]


@pytest.fixture
def site(protocol_loaded: Any) -> Any:
    return protocol_loaded.sites.first()


ELIGIBLE_SCREENING: dict[str, Any] = EXAMPLE_SCREENING | {"screening_crp_mg_l": 3.4}


@pytest.fixture
def make_participant(site: Any, coordinator: Any) -> Any:
    """Screen (and optionally consent) a participant; overrides go into the screening data."""
    from trial.participants.services import consent_record, participant_screen

    def make(
        *,
        sex: str = "F",
        age: int = 40,
        consent: bool = True,
        screened_days_ago: int = 3,
        at_site: Any = None,
        **screening: Any,
    ) -> Any:
        today = date.today()
        data = ELIGIBLE_SCREENING | {"screening_date": today - timedelta(days=screened_days_ago)} | screening
        p = participant_screen(
            site=at_site or site, sex=sex, date_of_birth=date(today.year - age, 1, 15), screening=data, by=coordinator
        )
        if consent and p.status == p.Status.ELIGIBLE:
            consent_record(participant=p, consent_date=data["screening_date"], by=coordinator)
        return p

    return make


@pytest.fixture
def active_list(users: dict[str, Any], protocol_loaded: Any) -> Any:
    """A fixed list, so the tests' arms are the same on every run. The app draws its lists from the
    operating system's randomness; a fixed list reaches it the way an externally made list does,
    by upload."""
    import csv
    import io
    import random

    from trial.protocol.selectors import protocol
    from trial.randomization.generation import CSV_COLUMNS, generate_list
    from trial.randomization.services import list_strata, randomization_list_upload

    config = protocol()
    planned = generate_list(
        strata=list_strata(config, by_site=config.stratify_by_site),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=config.block_sizes,
        per_stratum=40,
        rng=random.Random(2013),
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows((getattr(p, c) for c in CSV_COLUMNS) for p in planned)
    return randomization_list_upload(by=users["unblinded"], csv_text=out.getvalue(), name="Test list")


@pytest.fixture
def randomized(make_participant: Any, active_list: Any, coordinator: Any) -> Any:
    from trial.workspace.services import participant_enrol

    p = make_participant()
    participant_enrol(participant=p, by=coordinator)
    p.refresh_from_db()
    return p


# --- Web forms: logged-in clients per named user, and a participant at baseline --------------------


@pytest.fixture
def login(client: Any, users: dict[str, Any]) -> Any:
    """`login("coordinator")` -> the test client, logged in as that named user."""

    def as_user(username: str) -> Any:
        client.force_login(users[username])
        return client

    return as_user


@pytest.fixture
def baseline_visit(randomized: Any, coordinator: Any) -> Any:
    """The randomized participant's week-0 visit, recorded as done on its due date."""
    from trial.visits.services import visit_complete

    visit = randomized.visits.get(definition__week=0)
    return visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)


@pytest.fixture
def enrolled_a_month_ago(make_participant: Any, active_list: Any, coordinator: Any) -> Any:
    """Screened 30 days ago, baseline done 28 days ago: weeks 1-4 are due in the past, later ones in the future."""
    from trial.visits.services import visit_complete
    from trial.workspace.services import participant_enrol

    p = make_participant(screened_days_ago=30)
    participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
    baseline = p.visits.get(definition__week=0)
    visit_complete(visit=baseline, actual_date=baseline.scheduled_date, by=coordinator)
    p.refresh_from_db()
    return p


# --- Randomization, blinding and pharmacy ----------------------------------------------------------


@pytest.fixture
def pharmacy_lot(users: dict[str, Any], protocol_loaded: Any) -> Any:
    """A lot of 200 active-drug vials, received today, expiring in a year."""
    from trial.pharmacy.services import drug_lot_receive

    today = date.today()
    return drug_lot_receive(
        by=users["pharmacist"],
        lot_number="LOT-A1",
        expiry_date=today + timedelta(days=365),
        vials_received=200,
        received_on=today,
    )


@pytest.fixture
def trial_world(users: dict[str, Any], make_participant: Any, active_list: Any, pharmacy_lot: Any) -> Any:
    """Demo-like data made through the services: randomized participants in both arms and all four
    strata, done visits with vitals, infusions and labs (post-baseline hs-CRP/TNF/sTNFRs with
    recognisable values), pharmacy preparations (dispensed and pending), a withdrawn participant and
    an approved code break for a second investigator. See tests/trial/blinding/world.py."""
    from tests.trial.blinding.world import build_world

    return build_world(users=users, make_participant=make_participant, lot=pharmacy_lot)
