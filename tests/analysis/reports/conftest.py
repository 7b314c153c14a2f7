"""One small closed trial for the report tests, built once and rolled back at the end of the package.

seed_demo --closed runs the whole trial through the services (enrolment, visits, close-out,
database lock, formal unblinding); building it once per module instead of per test keeps the
suite within CI's budget. The module's tests run in savepoints inside the fixture's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

CLOSED_TRIAL_PARTICIPANTS = 16


# Package scope: the final report's and the power simulation's modules share one seeded trial.
@pytest.fixture(scope="package")
def closed_trial(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    from trial.accounts.users import DEMO_USERS, demo_users_ensure

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", participants=CLOSED_TRIAL_PARTICIPANTS, seed=2013, closed=True, stdout=StringIO())
            made = demo_users_ensure()
            yield {DEMO_USERS[role]: user for role, user in made.items()}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
