"""THE BLIND in every export format, for every blinded role that may export, read back by independent
readers: no arm, no kit id, no post-baseline hs-CRP/TNF/sTNFR value, no pharmacy dataset. The roles
without the export capability are refused by the page, the engine and the command alike."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from tests.trial.blinding.world import post_baseline_values_in
from trial.exports.formats import FORMATS

BLINDED_EXPORTERS = ["datamanager", "statistician", "admin"]
BLINDED_NON_EXPORTERS = ["coordinator", "rater", "investigator", "monitor"]
ARM_CELLS = {"IFX", "PBO", "Infliximab 5 mg/kg IV", "Placebo (saline)"}


def _tables_as_text(files: dict[str, bytes], tmp_path: Path) -> tuple[str, set[str], set[str]]:
    """(all text, every column name, every cell value as text) of a bundle, whatever its format."""
    frames: list[pd.DataFrame] = []
    text: list[str] = []
    for name, content in files.items():
        suffix = Path(name).suffix
        if suffix in {".csv"}:
            frames.append(pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False))
        elif suffix in {".xpt", ".sav", ".dta"}:
            path = tmp_path / name
            path.write_bytes(content)
            reader = {".xpt": pyreadstat.read_xport, ".sav": pyreadstat.read_sav, ".dta": pyreadstat.read_dta}[suffix]
            df, meta = reader(str(path))
            frames.append(df.astype(str))
            text.append(repr(meta.column_names_to_labels) + repr(getattr(meta, "variable_value_labels", {})))
        elif suffix == ".xlsx":
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
            for sheet in book.worksheets:
                rows = list(sheet.iter_rows(values_only=True))
                frames.append(pd.DataFrame(rows[1:], columns=rows[0]).astype(str))
        else:  # .R, .sas, .xml, .json
            text.append(content.decode())
    columns = {str(c) for df in frames for c in df.columns}
    cells = {str(v) for df in frames for v in df.to_numpy().ravel()}
    text.extend(df.to_csv(index=False) for df in frames)
    return "\n".join(text), columns, cells


@pytest.mark.django_db
def test_no_blinded_export_holds_an_arm_a_kit_or_a_hidden_lab_in_any_format(trial_world, bundle_files, tmp_path):
    kits = {p.kit_id for p in trial_world.preparations}
    for username in BLINDED_EXPORTERS:
        for fmt in FORMATS:
            files = bundle_files(username, fmt)
            text, columns, cells = _tables_as_text(files, tmp_path)
            where = f"{username} {fmt}"
            if fmt == "sdtm":  # SDTM keeps its required arm columns, masked (SDTMIG DM; ICH E6(R3) 4.2)
                assert "ARM" in columns and "BLINDED" in cells, where
            else:
                assert "ARM" not in columns, where
            assert "KITID" not in columns, where
            assert not cells & ARM_CELLS, where
            assert 'Value="IFX"' not in text and 'Value="PBO"' not in text, where
            if fmt == "odm":
                assert "IT.DM.ARM" not in text, where
            for kit in kits:
                assert kit not in text, where
            assert post_baseline_values_in(text) == [], where
            assert not any(n.startswith("pharm.") for n in files), where

    # The same export as the unblinded statistician does hold them: the check above can fail.
    files = bundle_files("unblinded", "csv", include_arm=True)
    text, columns, cells = _tables_as_text(files, tmp_path)
    assert "ARM" in columns and cells & {"IFX", "PBO"}
    assert any(kit in text for kit in kits)
    assert "13.579" in text
    assert "pharm.csv" in files


def test_blinded_roles_cannot_add_the_arm_or_take_the_pharmacy_dataset(randomized, users, bundle_files):
    for username in BLINDED_EXPORTERS:
        with pytest.raises(PermissionDenied):
            bundle_files(username, "csv", include_arm=True)
        with pytest.raises(PermissionDenied):
            bundle_files(username, "csv", datasets=["pharm"])


def test_roles_without_the_export_capability_are_refused_everywhere(randomized, users, bundle_files, client, tmp_path):
    for username in BLINDED_NON_EXPORTERS:
        with pytest.raises(PermissionDenied):
            bundle_files(username, "csv")
        with pytest.raises(CommandError):
            call_command("export", format="csv", out=str(tmp_path), username=username)
        client.force_login(users[username])
        assert client.get("/exports/").status_code == 403
        assert client.post("/exports/", {"datasets": ["dm"], "format": "csv"}).status_code == 403
        assert client.get("/exports/codebook/").status_code == 403


def test_the_rater_never_gets_adverse_events(users: dict[str, Any]):
    from trial.exports.datasets import datasets_for

    assert "ae" not in {d.code for d in datasets_for(users["rater"])}
    assert "ae" in {d.code for d in datasets_for(users["statistician"])}


def test_the_single_csv_export_follows_the_adverse_event_blind(login: Any, monkeypatch: Any, randomized: Any) -> None:
    """A protocol file that hides adverse events from a role that may export: the one-dataset CSV
    refuses them as the export engine does."""
    from django.urls import reverse

    from trial import blinding

    client = login("datamanager")
    assert client.get(reverse("export-dataset", args=["adverse_events"])).status_code == 200
    monkeypatch.setattr(blinding, "may_see_adverse_events", lambda user: False)
    assert client.get(reverse("export-dataset", args=["adverse_events"])).status_code == 403
