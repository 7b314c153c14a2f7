"""Journal-style P values (AMA Manual of Style, the style of the trial's report: "P = .19", "P < .005")."""

from __future__ import annotations

import math

import pytest

from analysis.stats.formatting import format_number, format_p


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0, "< .001"),
        (0.0004, "< .001"),
        (0.001, ".001"),
        (0.0049, ".005"),
        (0.19, ".19"),
        (0.9234, ".92"),
        (0.0496, ".050"),  # near .05: three decimals, so it does not read as ".05"
        (0.051, ".051"),
        (0.995, "> .99"),
        (1.0, "> .99"),
    ],
)
def test_it_prints_p_values_in_journal_style(p: float, shown: str) -> None:
    assert format_p(p) == shown


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -0.1, 1.5, "x"])
def test_it_prints_a_dash_for_what_is_not_a_p_value(bad: object) -> None:
    assert format_p(bad) == "-"


def test_it_never_prints_0_000() -> None:
    assert all(format_p(p) != "0.000" and not format_p(p).startswith("0") for p in (1e-9, 1e-4, 0.0004999))


def test_a_rounded_zero_has_no_sign() -> None:
    assert format_number(-0.001, 2) == "0.00"
    assert format_number(-1.234, 2) == "-1.23"
