"""Responder and remitter derivations (protocol, "End points")."""

from __future__ import annotations

import pandas as pd

from analysis.stats.endpoints import derive_remitters, derive_responders

HAMD = pd.DataFrame(
    {
        "pid": [1, 1, 1, 2, 2, 2, 3, 3, 4],
        "week": [0, 4, 12, 0, 2, 12, 0, 12, 4],
        "hamd": [24, 12, 14, 20, 11, 7, 22, None, 10],
    }
)


def test_a_50_percent_reduction_at_any_visit_is_a_response() -> None:
    out = derive_responders(HAMD, subject="pid", week="week", score="hamd").set_index("pid")
    assert out.loc[1, "responder"]  # 24 -> 12 at week 4, even though week 12 is 14
    assert out.loc[2, "responder"]  # 20 -> 7
    assert pd.isna(out.loc[3, "responder"])  # no post-baseline score
    assert pd.isna(out.loc[4, "responder"])  # no baseline


def test_remission_is_hamd_7_or_less_at_week_12() -> None:
    out = derive_remitters(HAMD, subject="pid", week="week", score="hamd").set_index("pid")
    assert not out.loc[1, "remitter"]
    assert out.loc[2, "remitter"]
    assert pd.isna(out.loc[3, "remitter"])
    itt = derive_remitters(HAMD, subject="pid", week="week", score="hamd", missing_as_failure=True)
    assert itt.set_index("pid").loc[3, "remitter"] == False  # noqa: E712 (pandas boolean scalar)
