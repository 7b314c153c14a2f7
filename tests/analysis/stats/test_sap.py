"""The pre-specified analyses (analysis.stats.sap) reproduce the published results in shape.

Large simulated trials (analysis.stats.simulate.simulate_crp_trial, seeded) check the shape of
the moderation; hand-built frames check the exact published 2x2 tables and the t58/t305 df.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.stats import sap
from analysis.stats.simulate import simulate_crp_trial


@pytest.fixture(scope="module")
def large_trial() -> pd.DataFrame:
    return simulate_crp_trial(2000, seed=2013)


@pytest.fixture(scope="module")
def large_final(large_trial: pd.DataFrame) -> sap.FinalAnalysis:
    return sap.final_analysis(large_trial)


def test_it_finds_the_published_crossing_between_3_and_8_mg_l(large_final: sap.FinalAnalysis) -> None:
    crossing = large_final.moderation.crossing_mg_l
    assert crossing is not None
    # protocol.md, Published results: the curve crosses zero at 4.98 mg/L.
    assert 3.0 < crossing < 8.0


def test_the_three_way_interaction_is_significant(large_final: sap.FinalAnalysis) -> None:
    key = large_final.moderation.key_test
    assert key.term == "trt:week:logcrp"
    assert key.p < 0.05


def test_infliximab_does_better_above_about_5_mg_l(large_final: sap.FinalAnalysis) -> None:
    curve = large_final.moderation.curve
    high = curve.loc[(curve["crp_mg_l"] - 15.0).abs().idxmin()]
    low = curve.loc[(curve["crp_mg_l"] - 1.0).abs().idxmin()]
    # Difference in change (infliximab - placebo): negative = infliximab reduced HAM-D more.
    assert high["ci_high"] < 0 < low["ci_low"]
    es = large_final.effect_sizes.table.set_index("subgroup")["d"]
    assert es["hs-CRP > 5"] > 0 > es["hs-CRP <= 5"]


@pytest.mark.parametrize("true_crossing", [2.0, 10.0])
def test_the_crossing_follows_the_data(true_crossing: float) -> None:
    data = simulate_crp_trial(2000, seed=5, crossing_mg_l=true_crossing, effect_per_log_crp=6.0)
    found = sap.moderation_analysis(data).crossing_mg_l
    assert found is not None
    assert true_crossing / 1.6 < found < true_crossing * 1.6


def test_the_primary_model_reports_the_three_wald_tests(large_final: sap.FinalAnalysis) -> None:
    primary = large_final.primary
    assert (primary.treatment.term, primary.time.term, primary.treatment_by_time.term) == ("trt", "week", "trt:week")
    # Simulated placebo improves over time: the time effect is a clear negative slope.
    assert primary.time.estimate < 0 and primary.time.p < 1e-6
    assert primary.n_subjects == 2000


def test_it_gives_lsmeans_by_week_and_arm_from_the_unstructured_model(large_final: sap.FinalAnalysis) -> None:
    lsm = large_final.primary.lsmeans
    assert lsm is not None, large_final.primary.lsmeans_note
    assert len(lsm) == 8 * 2
    week12 = lsm.loc[lsm["week"] == 12].set_index("arm")["estimate"]
    assert week12["PBO"] < -5  # the simulated placebo change at week 12 is -9.5 on average


def test_lsmeans_fall_back_to_ar1_with_a_note_when_un_is_not_estimable() -> None:
    # Week 3 is assessed in 2 of 40: too sparse for 36 unstructured parameters.
    primary = sap.primary_analysis(simulate_crp_trial(40, seed=3))
    assert primary.lsmeans is not None
    assert len(primary.lsmeans) == 2 * primary.lsmeans["week"].nunique()
    assert ("unstructured covariance (SAP)" in primary.lsmeans_note) or ("AR(1)" in primary.lsmeans_note)


# ----------------------------------------------------------------- exact published numbers
def _frame_with_counts(cells: dict[tuple[str, bool, bool], int]) -> pd.DataFrame:
    """A long frame whose responders per (arm, hs-CRP > 5, responder) are the given counts."""
    rows = []
    for (arm, high_crp, responder), count in cells.items():
        for _ in range(count):
            pid = f"P{len(rows) // 3:03d}"
            crp = 9.0 if high_crp else 2.0
            # Baseline 24; a 50% reduction at week 4 makes a responder, 25% does not.
            for week, total in ((0, 24), (4, 12 if responder else 18), (12, 14 if responder else 20)):
                rows.append(
                    {"participant_id": pid, "arm": arm, "week": week, "hamd_total": total, "baseline_crp_mg_l": crp}
                )
    frame = pd.DataFrame(rows)
    frame["baseline"] = 24
    frame["chg"] = frame["hamd_total"] - 24
    return frame


PUBLISHED_RESPONSE = {
    # protocol.md, Published results: hs-CRP > 5: 8/13 vs 3/9; hs-CRP <= 5: 7/17 vs 12/21.
    ("IFX", True, True): 8,
    ("IFX", True, False): 5,
    ("PBO", True, True): 3,
    ("PBO", True, False): 6,
    ("IFX", False, True): 7,
    ("IFX", False, False): 10,
    ("PBO", False, True): 12,
    ("PBO", False, False): 9,
}


def test_it_reproduces_the_published_response_tables() -> None:
    table = sap.response_table(_frame_with_counts(PUBLISHED_RESPONSE))
    high, low, overall = table.row("hs-CRP > 5"), table.row("hs-CRP <= 5"), table.row("overall")
    assert (high.events_active, high.n_active, high.events_control, high.n_control) == (8, 13, 3, 9)
    assert (round(high.chi2, 2), round(high.p, 2)) == (1.69, 0.19)
    assert (low.events_active, low.n_active, low.events_control, low.n_control) == (7, 17, 12, 21)
    assert (round(low.chi2, 2), round(low.p, 2)) == (0.96, 0.33)
    # Overall 50% vs 50%: chi2 0.00 (the report prints P = .99).
    assert (overall.percent_active, overall.percent_control, round(overall.chi2, 2)) == (50.0, 50.0, 0.0)
    assert overall.p > 0.99
    # No difference: neither NNT nor NNH, and no number (not an infinite NNH).
    assert (overall.number_needed_label, overall.number_needed) == ("", None)
    # NNT / NNH from the counts, not from rounded percentages.
    assert high.number_needed is not None and low.number_needed is not None
    assert (high.number_needed_label, round(high.number_needed, 2)) == ("NNT", 3.55)
    assert (low.number_needed_label, round(low.number_needed, 2)) == ("NNH", 6.26)


def test_response_counts_a_participant_without_follow_up_as_a_non_responder() -> None:
    frame = _frame_with_counts({("IFX", True, True): 2, ("PBO", True, True): 2})
    extra = pd.DataFrame(
        [
            {
                "participant_id": "X",
                "arm": "PBO",
                "week": 0,
                "hamd_total": 24,
                "baseline": 24,
                "chg": 0,
                "baseline_crp_mg_l": 1,
            }
        ]
    )
    table = sap.response_table(pd.concat([frame, extra]), crp_cutoff=None)
    row = table.row("overall")
    assert (row.events_control, row.n_control) == (2, 3)
    dropped = sap.response_table(pd.concat([frame, extra]), crp_cutoff=None, missing_as_failure=False)
    assert dropped.row("overall").n_control == 2


def test_remission_is_hamd_7_or_less_at_week_12_and_missing_counts_as_failure() -> None:
    rows = []
    for pid, arm, week12 in (("A", "IFX", 7), ("B", "IFX", 8), ("C", "PBO", 3), ("D", "PBO", None)):
        rows.append({"participant_id": pid, "arm": arm, "week": 0, "hamd_total": 24, "baseline_crp_mg_l": 3.0})
        if week12 is not None:
            rows.append({"participant_id": pid, "arm": arm, "week": 12, "hamd_total": week12, "baseline_crp_mg_l": 3.0})
    frame = pd.DataFrame(rows).assign(baseline=24)
    frame["chg"] = frame["hamd_total"] - 24
    row = sap.remission_table(frame, crp_cutoff=None).row("overall")
    assert (row.events_active, row.n_active, row.events_control, row.n_control) == (1, 2, 1, 2)


def _trial_with_367_post_baseline_rows() -> pd.DataFrame:
    data = simulate_crp_trial(60, seed=11)
    post = data.loc[data["week"] > 0]
    rng = np.random.default_rng(0)
    # Drop post-baseline rows at random (keeping each participant's first) until 367 remain.
    first = post.groupby("participant_id")["week"].transform("min") == post["week"]
    removable = post.index[~first].to_numpy()
    drop = rng.choice(removable, size=len(post) - 367, replace=False)
    return data.drop(index=drop)


def test_it_gives_the_published_t58_and_t305() -> None:
    data = _trial_with_367_post_baseline_rows()
    primary = sap.primary_analysis(data, lsmeans_by_week=False)
    assert (primary.n_subjects, primary.n_obs) == (60, 367)
    assert primary.treatment.df == 58
    assert primary.time.df == primary.treatment_by_time.df == 305
    moderation = sap.moderation_analysis(data)
    # Between part has rank 6 (Intercept, trt, logcrp, logcrp^2, trt:logcrp, trt:logcrp^2):
    # 367 - 12 - (60 - 6) = 301 (the paper prints t302; see analysis/stats/README.md).
    assert moderation.key_test.df == 301
    # The report's methods section prints which df rule produced t58 / t305.
    for result in (primary, moderation):
        assert result.df_method == "between-within"
        assert "DDFM=BETWITHIN" in result.df_method_label
        assert result.to_dict()["df_method_label"] == result.df_method_label


# ------------------------------------------------------------------------ blinded variant
def test_the_pooled_analysis_refuses_a_frame_with_the_arm(large_trial: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="treatment columns"):
        sap.pooled_analysis(large_trial)


def test_the_pooled_analysis_reports_time_means_and_missingness(large_trial: pd.DataFrame) -> None:
    blinded = large_trial.drop(columns=["arm"])
    pooled = sap.pooled_analysis(blinded)
    assert pooled.time.estimate < 0 and pooled.time.p < 1e-6
    by_week = pooled.by_week.set_index("week")
    observed = blinded.groupby("week")["participant_id"].nunique()
    assert by_week["observed"].to_dict() == observed.to_dict()
    assert (by_week["missing"] == 2000 - by_week["observed"]).all()
    # Week 3 was assessed in 11 of 60 by design: most are missing.
    assert by_week.loc[3, "percent_missing"] > 70
    text = json.dumps(pooled.to_dict(), allow_nan=False)
    assert "IFX" not in text and "PBO" not in text and "trt" not in text


def test_final_analysis_is_json_safe(large_final: sap.FinalAnalysis) -> None:
    payload = json.loads(json.dumps(large_final.to_dict(), allow_nan=False))
    assert payload["moderation"]["key_test"]["term"] == "trt:week:logcrp"
    assert {r["subgroup"] for r in payload["response"]["rows"]} == {"overall", "hs-CRP > 5", "hs-CRP <= 5"}


def test_it_refuses_unknown_arm_codes(large_trial: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="besides"):
        sap.primary_analysis(large_trial, active="infliximab", control="placebo")
