"""Eligibility and the visit schedule follow the protocol file in force, for every trial in protocols/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import PROTOCOL_FILES

pytestmark = pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)


@pytest.mark.django_db
@pytest.mark.parametrize("crp", [3.0, 3.01])
def test_enrolment_needs_the_screening_hs_crp_the_protocol_enriches_for(
    protocol_file: Any, make_participant: Any, crp: float
) -> None:
    from trial.protocol.selectors import protocol

    cut = protocol().eligibility_limits.get("screening_crp_above")
    p = make_participant(screening_crp_mg_l=crp)
    # The second trial enrols only above 3 mg/L ("> 3", so 3.0 fails); the reference trial has no such rule.
    enriched_out = cut is not None and not crp > cut
    assert p.screening.eligible is not enriched_out
    assert ("screening_crp_enriched" in p.screening.failed_criteria) is enriched_out


@pytest.mark.django_db
def test_enrolment_schedules_the_protocols_visits_with_their_windows_and_infusions(
    protocol_file: Any, randomized: Any
) -> None:
    from trial.protocol.selectors import protocol

    cfg = protocol()
    visits = list(randomized.visits.select_related("definition").order_by("definition__week"))
    on_study = [v for v in cfg.visits if v.week >= 0]
    assert [v.definition.code for v in visits] == [v.code for v in on_study]
    baseline = visits[0].scheduled_date
    for visit, planned in zip(visits, on_study, strict=True):
        assert visit.scheduled_date == baseline + timedelta(weeks=planned.week)
        assert visit.window_start == visit.scheduled_date - timedelta(days=planned.window_before_days)
        assert visit.window_end == visit.scheduled_date + timedelta(days=planned.window_after_days)
    assert tuple(v.definition.week for v in visits if v.definition.infusion) == cfg.infusion_weeks
    assert visits[-1].definition.week == cfg.weeks
