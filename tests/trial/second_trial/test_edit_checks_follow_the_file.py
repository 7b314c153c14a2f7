"""The hs-CRP edit check queries above the protocol file's threshold ([edit_checks]), for every trial."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import PROTOCOL_FILES

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)]


def test_hs_crp_at_the_threshold_is_not_queried_and_just_above_it_is(
    protocol_file: Any, baseline_visit: Any, coordinator: Any
) -> None:
    from trial.protocol.selectors import protocol
    from trial.queries.models import DataQuery
    from trial.queries.services import edit_checks_run
    from trial.visits import services

    limit = protocol().edit_checks.crp_high_mg_l  # 100 mg/L in the reference trial, 50 in the second
    lab = services.lab_record(
        visit=baseline_visit, analyte="hs_crp", value=limit, sample_time=timezone.now(), by=coordinator
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    assert not DataQuery.objects.filter(check_code="crp_high").exists()
    services.lab_record(
        visit=baseline_visit,
        analyte="hs_crp",
        value=limit + 0.5,
        sample_time=timezone.now(),
        by=coordinator,
        reason="Re-run",
        version=lab.version,
    )
    edit_checks_run(participant=baseline_visit.participant, by=coordinator)
    query = DataQuery.objects.get(check_code="crp_high")
    assert f"above {limit:g} mg/L" in query.text
