"""The analysis of the second trial through the same code path as the first: seed a small trial,
run the pooled (blinded) analysis and the DSMB's by-arm report, and find every dose against placebo
with the protocol file's multiplicity procedure."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from tests.conftest import PROTOCOL_DIR

SECOND = pytest.param(PROTOCOL_DIR / "infliximab_trd_dose.toml", id="infliximab_trd_dose")
pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("protocol_file", [SECOND], indirect=True)]


def test_the_by_arm_report_compares_each_dose_with_placebo_and_adjusts_by_holm(
    protocol_file: Any, users: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from analysis.models import AnalysisRun
    from analysis.services import analysis_run_request

    call_command("seed_demo", participants=18, seed=7, stdout=StringIO())
    with django_capture_on_commit_callbacks(execute=True):
        pooled = analysis_run_request(kind=AnalysisRun.Kind.MMRM_POOLED, by=users["statistician"])
        by_arm = analysis_run_request(kind=AnalysisRun.Kind.DSMB_CLOSED, by=users["unblinded"])
    pooled.refresh_from_db()
    by_arm.refresh_from_db()
    assert pooled.status == by_arm.status == AnalysisRun.Status.DONE, (pooled.error, by_arm.error)

    text = json.dumps(pooled.result)
    for marker in ("IFX10", "IFX5", "PBO", "Infliximab", "Placebo", '"arm"', "mg/kg"):
        assert marker not in text, marker

    result = by_arm.result
    multi = result["multiarm"]
    assert "error" not in multi, multi
    assert multi["control"] == "PBO" and multi["multiplicity"] == "holm" and multi["end_week"] == 24
    assert [c["arm"] for c in multi["contrasts"]] == ["IFX10", "IFX5"]
    raw = sorted(c["p"] for c in multi["contrasts"])
    adjusted = sorted(c["p_adjusted"] for c in multi["contrasts"])
    # Holm with two p-values: the smaller doubled, the larger kept (never below the smaller's adjustment).
    assert adjusted[0] == pytest.approx(min(1.0, 2 * raw[0]))
    assert adjusted[1] == pytest.approx(max(adjusted[0], raw[1]))
    assert set(result["by_contrast"]) == {"IFX10", "IFX5"}
    assert set(result["data"]["participants_by_arm"]) == {"IFX10", "IFX5", "PBO"}
    # Everyone with a post-baseline score is in the model (someone just randomized has none yet).
    assert 10 <= sum(multi["n_by_arm"].values()) <= result["data"]["participants"]
