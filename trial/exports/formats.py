"""Writers: the same Tables in every format. Each returns {file name: bytes}.

Nothing here decides what a user may see: the Tables come from trial.exports.datasets, which asks
trial.blinding, so a format cannot leak what the dataset left out.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import xlsxwriter

from trial.core.spreadsheet import neutralise_formulas
from trial.exports.dictionary import CHAR, DATE, DATETIME, NUM, codebook_rows
from trial.exports.odm import odm_document
from trial.exports.sdtm import build_domains, write_sdtm

FORMATS = {
    "csv": "CSV (one file per dataset, codebook.csv)",
    "xlsx": "Excel workbook (one sheet per dataset, codebook sheet)",
    "xpt": "SAS XPORT v5 (.xpt) with formats.sas",
    "sav": "SPSS (.sav) with variable and value labels",
    "dta": "Stata (.dta) with variable and value labels",
    "r": "R (CSV files and labels.R)",
    "odm": "CDISC ODM 1.3.2 XML",
    "sdtm": "SDTM-lite (DM, DS, SV, EX, AE, CM, LB, VS, QS as .xpt) with define.xml",
}

# SAS XPORT v5 stores at most 200 bytes in a character variable (SAS TS-140); longer text (the
# audit trail's changes, free-text descriptions) is cut there and is whole in every other format.
XPT_CHAR_MAX = 200


def _codebook_frame(tables: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(codebook_rows([t.code for t in tables]) + _arm_rows(tables))


def _arm_rows(tables: list[Any]) -> list[dict[str, str]]:
    # The arm is in the codebook only where it is in the data (an unblinded export that asked for it).
    rows = []
    for t in tables:
        for v in t.variables:
            if v.source == "arm" and t.code != "pharm":
                rows.append(
                    {
                        "dataset": t.code,
                        "dataset_label": t.label,
                        "name": v.name,
                        "label": v.label,
                        "type": v.type,
                        "units": v.units,
                        "value_labels": "; ".join(f"{c}={x}" for c, x in v.value_labels),
                    }
                )
    return rows


def _csv_frame(t: Any) -> pd.DataFrame:
    df = t.frame.copy()
    for v in t.variables:
        if v.type == DATETIME:
            df[v.name] = [x.isoformat() if not pd.isna(x) else "" for x in df[v.name].dt.to_pydatetime()]
        elif v.type == DATE:
            df[v.name] = [x.isoformat() if isinstance(x, date) else "" for x in df[v.name]]
    return neutralise_formulas(df)


def write_csv(tables: list[Any]) -> dict[str, bytes]:
    files = {f"{t.code}.csv": _csv_frame(t).to_csv(index=False).encode() for t in tables}
    files["codebook.csv"] = neutralise_formulas(_codebook_frame(tables)).to_csv(index=False).encode()
    return files


# Excel's sheet holds 1,048,576 rows: the header and this many data rows. A longer dataset (the audit
# trail of a large trial) goes on in sheets named audit_2, audit_3, ..., each with the header again.
XLSX_MAX_ROWS = 1_048_575


def _sheet_rows(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    # Missing values (None, NaN, pd.NA) become empty cells, not the text "nan".
    cells = frame.astype(object).where(frame.notna(), None)
    yield from cells.itertuples(index=False, name=None)


def write_xlsx(tables: list[Any]) -> dict[str, bytes]:
    """XlsxWriter in constant-memory mode, row by row: a 10,000-participant audit trail would not
    fit in memory cell by cell. URLs and formula-like text are written as plain text (formulas are
    neutralised first, as in CSV)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_urls": False, "strings_to_formulas": False})
    sheets = [("codebook", neutralise_formulas(_codebook_frame(tables)))]
    sheets += [(t.code, _csv_frame(t)) for t in tables]
    for name, frame in sheets:
        header = [str(c) for c in frame.columns]
        rows = _sheet_rows(frame)
        pending = next(rows, None)
        part = 1
        while True:
            sheet = book.add_worksheet(name if part == 1 else f"{name}_{part}")
            sheet.write_row(0, 0, header)
            written = 0
            while pending is not None and written < XLSX_MAX_ROWS:
                written += 1
                sheet.write_row(written, 0, pending)
                pending = next(rows, None)
            if pending is None:
                break
            part += 1
    book.close()
    return {"datasets.xlsx": out.getvalue()}


def _labels(t: Any) -> dict[str, str | None]:
    return {v.name: v.label for v in t.variables}


def _numeric_value_labels(t: Any) -> dict[str, dict[float, str]]:
    return {
        v.name: {float(code): text for code, text in v.value_labels}
        for v in t.variables
        if v.value_labels and v.type == NUM
    }


def _all_value_labels(t: Any) -> dict[str, dict[Any, str]]:
    labels: dict[str, dict[Any, str]] = dict(_numeric_value_labels(t))
    for v in t.variables:
        if v.value_labels and v.type == CHAR:
            labels[v.name] = {str(code): text for code, text in v.value_labels}
    return labels


def _with_tempdir(write: Callable[[Path], None]) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        write(path)
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _stat_frame(t: Any) -> pd.DataFrame:
    """pyreadstat wants plain columns: text as str, dates as date objects, nothing tz-aware."""
    df = t.frame.copy()
    for v in t.variables:
        if v.type == CHAR:
            df[v.name] = df[v.name].astype(str)
        elif v.type == NUM:
            df[v.name] = df[v.name].astype("float64")
    return df


def write_xpt(tables: list[Any]) -> dict[str, bytes]:
    def write(path: Path) -> None:
        for t in tables:
            df = _stat_frame(t)
            for v in t.variables:
                if v.type == CHAR:
                    df[v.name] = [s.encode()[:XPT_CHAR_MAX].decode(errors="ignore") for s in df[v.name]]
            pyreadstat.write_xport(
                df,
                str(path / f"{t.code}.xpt"),
                file_label=t.label[:40],
                column_labels=_labels(t),
                table_name=t.code.upper(),
                file_format_version=5,
            )
        (path / "formats.sas").write_text(sas_formats_program(tables))

    return _with_tempdir(write)


def _sas_quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def sas_formats_program(tables: list[Any]) -> str:
    """PROC FORMAT for the value labels (XPORT v5 carries variable labels but no formats catalogue)."""
    lines = ["/* Value labels for the Stratum export: %include after reading the .xpt files. */", "proc format;"]
    assigns: list[str] = []
    for t in tables:
        for v in t.variables:
            if not v.value_labels:
                continue
            fmt = f"{'$' if v.type == CHAR else ''}{t.code[:4].upper()}{v.name[:3]}{len(assigns)}F"
            pairs = " ".join(
                f"{_sas_quote(code) if v.type == CHAR else code}={_sas_quote(text)}" for code, text in v.value_labels
            )
            lines.append(f"  value {fmt} {pairs};")
            assigns.append(f"data {t.code}; set {t.code}; format {v.name} {fmt}.; run;")
    lines.append("run;")
    return "\n".join(lines + assigns) + "\n"


def write_sav(tables: list[Any]) -> dict[str, bytes]:
    def write(path: Path) -> None:
        for t in tables:
            pyreadstat.write_sav(
                _stat_frame(t),
                str(path / f"{t.code}.sav"),
                file_label=t.label,
                column_labels=_labels(t),
                variable_value_labels=_all_value_labels(t),
            )

    return _with_tempdir(write)


def write_dta(tables: list[Any]) -> dict[str, bytes]:
    # Stata labels numeric values only: coded text (sex F/M) stays as its code, decoded in the codebook.
    def write(path: Path) -> None:
        for t in tables:
            pyreadstat.write_dta(
                _stat_frame(t),
                str(path / f"{t.code}.dta"),
                file_label=t.label,
                column_labels=_labels(t),
                variable_value_labels=_numeric_value_labels(t),
            )

    return _with_tempdir(write)


def _r_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def r_script(tables: list[Any]) -> str:
    """Reads each CSV, applies the variable labels (attribute "label", as haven and Hmisc use) and
    turns coded variables into factors with their value labels."""
    out = [
        "# Stratum export: read the CSV files of this folder and apply labels and factors.",
        '# Usage: setwd() to this folder, then source("labels.R"); each dataset becomes a data frame.',
        'read_stratum <- function(file) read.csv(file, stringsAsFactors = FALSE, na.strings = "")',
    ]
    for t in tables:
        out.append(f"{t.code} <- read_stratum({_r_string(t.code + '.csv')})")
        for v in t.variables:
            if v.type == DATE:
                out.append(f"{t.code}${v.name} <- as.Date({t.code}${v.name})")
            elif v.type == DATETIME:
                out.append(
                    f'{t.code}${v.name} <- as.POSIXct({t.code}${v.name}, tz = "UTC", format = "%Y-%m-%dT%H:%M:%OS")'
                )
            if v.value_labels:
                levels = ", ".join(_r_string(str(c)) if v.type == CHAR else str(c) for c, _ in v.value_labels)
                labels = ", ".join(_r_string(x) for _, x in v.value_labels)
                out.append(
                    f"{t.code}${v.name} <- factor({t.code}${v.name}, levels = c({levels}), labels = c({labels}))"
                )
            out.append(f'attr({t.code}${v.name}, "label") <- {_r_string(v.label)}')
    return "\n".join(out) + "\n"


def write_r(tables: list[Any]) -> dict[str, bytes]:
    files = write_csv(tables)
    files["labels.R"] = r_script(tables).encode()
    return files


def write_odm(tables: list[Any], *, context: Any) -> dict[str, bytes]:
    return {"odm.xml": odm_document(tables, context=context)}


def write_sdtm_files(tables: list[Any], *, with_arm: bool = False) -> dict[str, bytes]:
    return write_sdtm(build_domains({t.code: t for t in tables}, with_arm=with_arm))


WRITERS: dict[str, Callable[..., dict[str, bytes]]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
    "xpt": write_xpt,
    "sav": write_sav,
    "dta": write_dta,
    "r": write_r,
    "odm": write_odm,
    "sdtm": write_sdtm_files,
}


__all__ = ["FORMATS", "WRITERS", "neutralise_formulas"]
