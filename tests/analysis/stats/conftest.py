"""Fixtures for the statistics tests: the external SAS reference, or a clear failure."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.analysis.stats.sas_reference import ReferenceMissingError, load_reference


@pytest.fixture(scope="session")
def fev_reference() -> tuple[pd.DataFrame, dict[str, Any]]:
    # The reference is the ground truth of the validation: its absence must fail CI, not skip.
    try:
        return load_reference()
    except ReferenceMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
