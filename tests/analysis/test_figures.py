"""The report's figures: deterministic bytes, colour-blind-safe arm colours, a log hs-CRP axis,
and no arm in the pooled figure."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis import figures


def _final_result() -> dict[str, Any]:
    weeks = (1, 2, 4, 6, 8, 12)
    lsmeans = [
        {
            "week": w,
            "arm": arm,
            "estimate": -0.5 * w - (1 if arm == "IFX" else 0),
            "ci_low": -0.5 * w - 3,
            "ci_high": -0.5 * w + 1,
        }
        for w in weeks
        for arm in ("IFX", "PBO")
    ]
    crp = np.exp(np.linspace(np.log(0.3), np.log(30), 25))
    curve = [
        {
            "crp_mg_l": c,
            "estimate": -2 * np.log(c / 5),
            "ci_low": -2 * np.log(c / 5) - 3,
            "ci_high": -2 * np.log(c / 5) + 3,
        }
        for c in crp
    ]
    return {
        "active": "IFX",
        "control": "PBO",
        "primary": {"lsmeans": lsmeans},
        "moderation": {"curve": curve, "crossing_mg_l": 5.0, "week": 12},
    }


def test_figures_are_byte_identical_when_drawn_twice() -> None:
    first = figures.run_figures("mmrm_final", _final_result())
    second = figures.run_figures("mmrm_final", _final_result())
    assert [f.name for f in first] == ["lsmeans_by_week", "difference_by_crp"]
    for a, b in zip(first, second, strict=True):
        assert a.svg == b.svg and a.png == b.png
        assert a.png.startswith(b"\x89PNG")
        assert "<dc:date>" not in a.svg  # no creation date in the metadata


def test_the_arms_have_okabe_ito_colours_and_the_crp_axis_is_logarithmic() -> None:
    lsmeans, difference = figures.run_figures("mmrm_final", _final_result())
    assert "#0072b2" in lsmeans.svg.lower() and "#d55e00" in lsmeans.svg.lower()
    # A log axis has tick labels at powers of ten (10^0, 10^1) drawn as mathtext.
    assert "zero at 5.00 mg/L" in difference.alt.replace("crosses zero at", "zero at")
    assert difference.svg.count('<g id="xtick_') >= 3


def test_the_pooled_figure_has_no_arm() -> None:
    pooled = figures.run_figures(
        "mmrm_pooled", {"by_week": [{"week": w, "mean_hamd": 24 - w, "sd_hamd": 4.0} for w in (0, 1, 2, 4)]}
    )
    assert [f.name for f in pooled] == ["pooled_hamd_by_week"]
    svg = pooled[0].svg
    for marker in ("IFX", "PBO", "#0072B2", "#D55E00"):
        assert marker.lower() not in svg.lower(), marker
