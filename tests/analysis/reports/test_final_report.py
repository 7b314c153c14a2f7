"""The final report on one small closed trial (seed_demo --closed, built once for the module):
every element, byte-identical re-runs, provenance, downloads, the command line, and the blind
for every role on every surface the report adds."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from analysis import report
from analysis.models import AnalysisRun
from analysis.services import analysis_run_request
from trial.participants.models import Participant
from trial.safety.models import AdverseEvent

# One pytest worker builds the closed trial once and runs every test that reads it.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("closed-trial"), pytest.mark.slow]

EVERYONE = [
    "coordinator",
    "rater",
    "pharmacist",
    "investigator",
    "datamanager",
    "statistician",
    "unblinded",
    "dsmb",
    "admin",
    "monitor",
]
ANALYSTS = {"statistician", "unblinded", "dsmb"}
BY_ARM_READERS = {"unblinded", "dsmb"}
ARM_MARKERS = ("IFX", "PBO", "Infliximab", "Placebo", "infliximab", "placebo")


def _run(kind: str, by: Any, capture: Any) -> AnalysisRun:
    with capture(execute=True):
        run = analysis_run_request(kind=kind, by=by)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.DONE, run.error
    return run


@pytest.fixture
def final_run(closed_trial: dict[str, Any], django_capture_on_commit_callbacks: Any) -> AnalysisRun:
    return _run(AnalysisRun.Kind.MMRM_FINAL, closed_trial["unblinded"], django_capture_on_commit_callbacks)


@pytest.fixture
def pooled_run(closed_trial: dict[str, Any], django_capture_on_commit_callbacks: Any) -> AnalysisRun:
    return _run(AnalysisRun.Kind.MMRM_POOLED, closed_trial["statistician"], django_capture_on_commit_callbacks)


def test_the_final_report_has_every_element(final_run: AnalysisRun) -> None:
    result = final_run.result
    for section in (
        "primary",
        "moderation",
        "consort",
        "table1",
        "endpoints",
        "crp_mmrm",
        "biomarkers",
        "ae_table",
        "data_counts",
    ):
        assert section in result and "error" not in result[section], (section, result.get(section))
    # CONSORT against the ORM, counted independently of analysis.frames.
    consort = result["consort"]
    assert consort["screened"] == Participant.objects.active().count()
    assert consort["randomized"] == Participant.objects.active().filter(allocation__isnull=False).count()
    assert sum(a["randomized"] for a in consort["by_arm"].values()) == consort["randomized"]
    # Table 2 "any adverse event" against the ORM: participants with at least one (not voided) event.
    ae = pd.DataFrame(result["ae_table"]).set_index("event")
    with_ae = (
        AdverseEvent.objects.active()
        .filter(participant__voided_at__isnull=True)
        .values("participant")
        .distinct()
        .count()
    )
    assert ae.loc["any adverse event", ["participants_active", "participants_control"]].sum() == with_ae
    # Response at three cut-offs, with the test named.
    # The allocation comes from a CSPRNG, so in a 16-participant trial a cut-off may leave one arm
    # empty; that cut-off is then reported with the reason, never silently dropped.
    response = pd.DataFrame(result["endpoints"]["response"])
    subgroups = set(response["subgroup"])
    for cut in ("1", "3", "5"):
        if f"hs-CRP > {cut}" not in subgroups:
            missing = response.loc[response["subgroup"] == f"hs-CRP cut-off {cut} mg/L", "test"]
            assert len(missing) == 1 and missing.iloc[0].startswith("not estimable: "), (cut, subgroups)
    estimated = response.loc[~response["test"].str.startswith("not estimable")]
    assert "hs-CRP > 1" in subgroups or "hs-CRP > 3" in subgroups, subgroups
    assert set(estimated["test"]) <= {"Pearson chi-square", "Fisher exact (expected < 5)", "none (no variation)"}
    tables = report.run_tables(final_run)
    assert {"consort", "table1", "response", "remission", "adverse_events", "data_counts", "lsmeans"} <= set(tables)


def test_a_rerun_on_unchanged_data_is_byte_identical(
    final_run: AnalysisRun, closed_trial: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    again = _run(AnalysisRun.Kind.MMRM_FINAL, closed_trial["unblinded"], django_capture_on_commit_callbacks)
    assert again.pk != final_run.pk
    assert again.provenance["dataset_sha256"] == final_run.provenance["dataset_sha256"]
    first, second = report.bundle_files(final_run), report.bundle_files(again)
    compared = [n for n in first if n.startswith(("tables/", "figures/", "data/"))]
    assert any(n.endswith(".svg") for n in compared) and any(n.endswith(".png") for n in compared)
    for name in compared:
        assert first[name] == second[name], name


def test_provenance_is_recorded_and_printed_without_the_worker_pid(final_run: AnalysisRun, login: Any) -> None:
    prov = final_run.provenance
    assert len(prov["dataset_sha256"]) == len(prov["protocol_sha256"]) == 64
    assert {"numpy", "scipy", "pandas", "statsmodels", "Stratum"} <= set(prov["versions"])
    assert prov["requested_by"] == "unblinded" and prov["seed"] == final_run.seed
    page = login("unblinded").get(reverse("analysis:detail", args=[final_run.pk])).content.decode()
    assert prov["dataset_sha256"] in page and prov["protocol_sha256"] in page and prov["code_version"] in page
    assert " pid " not in page and final_run.worker not in page


def test_the_bundle_holds_report_tables_figures_dataset_and_manifest(final_run: AnalysisRun, login: Any) -> None:
    response = login("dsmb").get(reverse("analysis:bundle", args=[final_run.pk]))
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert {"report.html", "manifest.json", "tables/table1.csv", "data/hamd.csv", "figures/lsmeans_by_week.png"} <= set(
        names
    )
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("manifest.json"))
    assert manifest["provenance"]["dataset_sha256"] == final_run.provenance["dataset_sha256"]
    html = login("dsmb").get(reverse("analysis:report", args=[final_run.pk])).content.decode()
    assert "<script" not in html and "Table 1. Baseline characteristics by arm" in html


@pytest.mark.parametrize("username", EVERYONE)
def test_the_blind_on_every_report_surface(
    username: str, final_run: AnalysisRun, pooled_run: AnalysisRun, login: Any
) -> None:
    client = login(username)
    for name in ("detail", "status", "report", "bundle"):
        by_arm = client.get(reverse(f"analysis:{name}", args=[final_run.pk]))
        pooled = client.get(reverse(f"analysis:{name}", args=[pooled_run.pk]))
        if username in BY_ARM_READERS:
            assert by_arm.status_code == 200, name
        elif username in ANALYSTS:
            assert by_arm.status_code == 404, name  # the by-arm run does not exist for a blinded reader
        else:
            assert by_arm.status_code == 403, name
        # Pooled runs are visible to every analysis role, whoever requested them.
        assert pooled.status_code == (200 if username in ANALYSTS else 403), name
        if pooled.status_code == 200:
            body = pooled.content
            if name == "bundle":
                archive = zipfile.ZipFile(io.BytesIO(body))
                body = b"".join(archive.read(n) for n in archive.namelist() if not n.endswith(".png"))
            text = body.decode()
            # As words: a page's random CSRF token or nonce may hold "IFX" by chance.
            for marker in ARM_MARKERS:
                assert not re.search(rf"\b{marker}\b", text), (name, marker)


def test_the_pooled_run_reports_enrolment_and_retention_without_arms(pooled_run: AnalysisRun) -> None:
    enrolment = pd.DataFrame(pooled_run.result["enrolment"]).set_index("stage")["participants"]
    active = Participant.objects.active()
    assert enrolment["Screened"] == active.count()
    assert enrolment["Randomized"] == active.filter(allocation__isnull=False).count()
    assert enrolment["Completed"] + enrolment["Withdrawn"] + enrolment["On study"] == enrolment["Randomized"]
    assert enrolment["On study"] == 0  # the trial is closed
    quality = pd.DataFrame(pooled_run.result["data_quality"]).set_index("metric")["value"]
    assert quality["Visits due"] > 0 and quality["Queries open or answered"] == 0  # every query closed at lock
    assert "data_quality" in report.run_tables(pooled_run)
    assert "enrolment" in report.run_tables(pooled_run)


def test_the_status_endpoint_reports_the_stage_and_progress(final_run: AnalysisRun, login: Any) -> None:
    status = login("unblinded").get(reverse("analysis:status", args=[final_run.pk])).json()
    assert status == {"status": "done", "status_label": "Done", "stage": "Done", "progress": 100, "finished": True}


def test_the_command_line_applies_the_users_rights_and_blind(closed_trial: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Refused"):
        call_command(
            "analysis_run", kind="final", username="statistician", wait=True, out=tmp_path / "no", stdout=io.StringIO()
        )
    assert not (tmp_path / "no").exists()
    call_command(
        "analysis_run",
        kind="pooled",
        username="statistician",
        wait=True,
        out=tmp_path / "pooled",
        stdout=io.StringIO(),
    )
    manifest = json.loads((tmp_path / "pooled" / "manifest.json").read_text())
    assert manifest["unblinded"] is False and "tables/by_week.csv" in manifest["files"]
    assert "arm" not in (tmp_path / "pooled" / "data" / "hamd.csv").read_text().splitlines()[0].split(",")
