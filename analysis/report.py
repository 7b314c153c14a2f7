"""A finished run as a report: its tables (CSV), figures, a self-contained HTML report and a ZIP
bundle with a manifest. Everything is built from the run's stored result and datasets, so a
download shows exactly what the run computed, whatever changed in the database since.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.template.loader import render_to_string

from analysis import figures
from analysis.models import AnalysisRun
from analysis.stats.formatting import format_number, format_p

# Column names whose values are P values: printed journal style on pages, raw in the CSV files.
_P_COLUMNS = frozenset({"p"})
_COUNT_HINTS = ("n_", "events_", "participants", "observations", "due", "missing", "expected", "observed")
# Table titles, in report order (the published report's structure, protocol.md).
_TITLES = {
    "enrolment": "Enrolment and retention (pooled over arms)",
    "by_week": "By week: HAM-D and missingness (due visits only)",
    "time_effect": "Pooled MMRM coefficients",
    "data_quality": "Data quality (pooled over arms)",
    "consort": "CONSORT flow",
    "table1": "Table 1. Baseline characteristics by arm",
    "primary_coefficients": "Primary MMRM coefficients",
    "lsmeans": "LS-means of the change by week and arm",
    "moderation_coefficients": "Moderation MMRM coefficients",
    "difference_curve": "Difference at week 12 along baseline hs-CRP",
    "response": "Response by baseline hs-CRP",
    "remission": "Remission by baseline hs-CRP",
    "effect_sizes": "Standardized effect sizes at week 12",
    "crp_mmrm": "Longitudinal hs-CRP MMRM coefficients",
    "biomarkers": "Biomarker comparisons",
    "adverse_events": "Table 2. Adverse events by arm",
    "data_counts": "Data counts by visit",
    "power": "Power against sample size per arm (Monte Carlo 95% interval)",
}
# A fixed timestamp for ZIP entries: the bundle's bytes depend on its content only.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _records(value: Any) -> pd.DataFrame | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return pd.DataFrame(value)
    return None


def _consort_rows(consort: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {"stage": "Screened", "arm": "all", "count": consort["screened"]},
        {"stage": "Screen failures", "arm": "all", "count": consort["screen_failures"]},
    ]
    rows += [
        {"stage": f"Screen failure: {reason}", "arm": "all", "count": n}
        for reason, n in consort["screen_failures_by_reason"].items()
    ]
    rows.append({"stage": "Randomized", "arm": "all", "count": consort["randomized"]})
    for arm, counts in consort["by_arm"].items():
        for stage in ("randomized", "received_any_infusion", "received_all_infusions", "completed", "withdrawn"):
            rows.append({"stage": stage.replace("_", " ").capitalize(), "arm": arm, "count": counts[stage]})
        rows += [
            {"stage": f"Withdrawn: {reason}", "arm": arm, "count": n}
            for reason, n in counts["withdrawn_by_reason"].items()
        ]
        rows.append({"stage": "Analysed", "arm": arm, "count": counts["analysed"]})
    return pd.DataFrame(rows)


def run_tables(run: AnalysisRun) -> dict[str, pd.DataFrame]:
    """Every table of the run, by file name, in report order."""
    result = run.result or {}
    found: dict[str, pd.DataFrame | None] = {}
    if run.kind == AnalysisRun.Kind.DATASET_SUMMARY:
        found["by_week"] = pd.DataFrame(
            [{"week": int(w), "n": r["n"], "mean_hamd": r["mean_hamd"]} for w, r in result.get("by_week", {}).items()]
        )
    elif run.kind == AnalysisRun.Kind.POWER_SIM:
        found["power"] = _records(result.get("power"))
    elif run.kind == AnalysisRun.Kind.MMRM_POOLED:
        found["enrolment"] = _records(result.get("enrolment"))
        found["time_effect"] = _records(result.get("coefficients"))
        found["by_week"] = _records(result.get("by_week"))
        found["data_quality"] = _records(result.get("data_quality"))
    else:
        if isinstance(result.get("consort"), dict) and "error" not in result["consort"]:
            found["consort"] = _consort_rows(result["consort"])
        found["table1"] = _records(result.get("table1"))
        primary = result.get("primary") or {}
        found["primary_coefficients"] = _records(primary.get("coefficients"))
        found["lsmeans"] = _records(primary.get("lsmeans"))
        moderation = result.get("moderation") or {}
        found["moderation_coefficients"] = _records(moderation.get("coefficients"))
        found["difference_curve"] = _records(moderation.get("curve"))
        endpoints = result.get("endpoints") or {}
        found["response"] = _records(endpoints.get("response"))
        found["remission"] = _records(endpoints.get("remission"))
        found["effect_sizes"] = _records((result.get("effect_sizes") or {}).get("table"))
        found["crp_mmrm"] = _records((result.get("crp_mmrm") or {}).get("coefficients"))
        found["biomarkers"] = _records(result.get("biomarkers"))
        found["adverse_events"] = _records(result.get("ae_table"))
        found["data_counts"] = _records(result.get("data_counts"))
    return {name: df for name, df in found.items() if df is not None}


def table_csv(df: pd.DataFrame) -> str:
    from trial.core.spreadsheet import neutralise_formulas

    return str(neutralise_formulas(df).to_csv(index=False, lineterminator="\n", float_format="%.10g"))


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if column in _P_COLUMNS or column.endswith("_p"):
        return format_p(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value, 0 if column.startswith(_COUNT_HINTS) and value.is_integer() else 2)
    return str(value)


def display_tables(run: AnalysisRun) -> list[dict[str, Any]]:
    """The tables for a page: title, columns and formatted cells (P values journal style)."""
    out = []
    for name, df in run_tables(run).items():
        if name == "difference_curve":
            df = df.iloc[::10]  # every tenth grid point on the page; the CSV has them all
        out.append(
            {
                "id": name.replace("_", "-"),
                "title": _TITLES.get(name, name),
                "columns": [str(c).replace("_", " ") for c in df.columns],
                "rows": [
                    [_cell(str(c), v) for c, v in zip(df.columns, row, strict=True)]
                    for row in df.itertuples(index=False)
                ],
            }
        )
    return out


# Drawing is the slow part of a page or download; a finished run's figures never change.
_FIGURE_CACHE: dict[tuple[int, str], list[figures.Figure]] = {}
_FIGURE_CACHE_SIZE = 16


def run_figures(run: AnalysisRun) -> list[figures.Figure]:
    key = (run.pk, run.finished_at.isoformat() if run.finished_at else "")
    if key not in _FIGURE_CACHE:
        if len(_FIGURE_CACHE) >= _FIGURE_CACHE_SIZE:
            _FIGURE_CACHE.pop(next(iter(_FIGURE_CACHE)))
        _FIGURE_CACHE[key] = figures.run_figures(run.kind, run.result or {})
    return _FIGURE_CACHE[key]


def report_context(run: AnalysisRun) -> dict[str, Any]:
    return {
        "run": run,
        "result": run.result,
        "tables": display_tables(run),
        "figures": run_figures(run),
        "provenance": run.provenance,
    }


def report_html(run: AnalysisRun) -> str:
    """The self-contained printable report: styles inlined, figures as data URIs, no script."""
    css = (Path(settings.BASE_DIR) / "static" / "css" / "analysis_report.css").read_text(encoding="utf-8")
    return render_to_string("analysis/report.html", report_context(run) | {"inline_css": css})


def _write(zf: zipfile.ZipFile, name: str, data: bytes, files: dict[str, str]) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)
    files[name] = hashlib.sha256(data).hexdigest()


def bundle_files(run: AnalysisRun) -> dict[str, bytes]:
    """Every file of the bundle, by path: report, tables, figures, datasets and manifest.json."""
    out: dict[str, bytes] = {"report.html": report_html(run).encode("utf-8")}
    for name, df in run_tables(run).items():
        out[f"tables/{name}.csv"] = table_csv(df).encode("utf-8")
    for fig in run_figures(run):
        out[f"figures/{fig.name}.svg"] = fig.svg.encode("utf-8")
        out[f"figures/{fig.name}.png"] = fig.png
    for name, text in sorted((run.result or {}).get("datasets", {}).items()):
        out[f"data/{name}.csv"] = text.encode("utf-8")
    manifest = {
        "run": run.pk,
        "kind": run.kind,
        "label": run.get_kind_display(),
        "unblinded": run.unblinded,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "provenance": run.provenance,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(out.items())},
    }
    out["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    return out


def bundle_zip(run: AnalysisRun) -> bytes:
    buffer = io.BytesIO()
    written: dict[str, str] = {}
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in bundle_files(run).items():
            _write(zf, name, data, written)
    return buffer.getvalue()
