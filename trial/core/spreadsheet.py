"""Spreadsheet-safe text for every CSV and workbook the system writes (the exports and the analysis
bundles), kept below both so they share one rule."""

from __future__ import annotations

from typing import Any

import pandas as pd

# A spreadsheet treats a cell that starts with one of these as a formula (OWASP "CSV injection"):
# an adverse-event term typed as =HYPERLINK(...) would run in the data manager's spreadsheet.
# Such cells are exported with a leading apostrophe, which spreadsheets show as text (21 CFR
# 11.10(a): the exported copy must be accurate, not executable).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells only: numbers (a negative change from baseline) are written as numbers."""
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out
