"""The final report's tables, each against an independent scipy/pandas computation or the
published counts (protocol.md, "Published results", copied here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps

from analysis.stats import report_tables
from analysis.stats.simulate import simulate_crp_trial

ARMS = ("IFX", "PBO")


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return simulate_crp_trial(60, seed=7)


def test_the_2x2_test_reproduces_the_published_response_in_crp_above_5() -> None:
    # Published: hs-CRP > 5, 8/13 (62%) vs 3/9 (33%), chi2(1) = 1.69, P = .19 (Pearson, no correction).
    # The smallest expected count is 4.5 < 5, so the exact test is reported, and it says so.
    out = report_tables.two_by_two_test(8, 13, 3, 9)
    assert round(out["chi2"], 2) == 1.69
    assert out["test"].startswith("Fisher")
    assert out["p"] == pytest.approx(sps.fisher_exact([[8, 5], [3, 6]]).pvalue)


def test_the_2x2_test_is_pearson_when_every_expected_count_is_5_or_more() -> None:
    # Published: hs-CRP <= 5, 7/17 (41%) vs 12/21 (57%), chi2 = 0.96, P = .33.
    out = report_tables.two_by_two_test(7, 17, 12, 21)
    assert out["test"] == "Pearson chi-square"
    assert (round(out["chi2"], 2), round(out["p"], 2)) == (0.96, 0.33)


def test_response_by_cutoff_matches_counts_made_with_pandas(trial: pd.DataFrame) -> None:
    table = report_tables.endpoint_by_cutoffs(trial, outcome="response", active="IFX", control="PBO")
    assert list(table["subgroup"]) == [
        "overall",
        "hs-CRP > 1",
        "hs-CRP <= 1",
        "hs-CRP > 3",
        "hs-CRP <= 3",
        "hs-CRP > 5",
        "hs-CRP <= 5",
    ]
    # Independent: responder = any post-baseline HAM-D <= half the baseline (protocol.md, "End points").
    post = trial.loc[trial["week"] > 0].dropna(subset=["hamd_total"])
    best = post.groupby("participant_id")["hamd_total"].min()
    subj = trial.groupby("participant_id").agg(
        arm=("arm", "first"), base=("baseline", "first"), crp=("baseline_crp_mg_l", "first")
    )
    subj["responder"] = (best.reindex(subj.index) <= 0.5 * subj["base"]).fillna(False)
    above3 = subj.loc[subj["crp"] > 3]
    row = table.set_index("subgroup").loc["hs-CRP > 3"]
    assert row["events_active"] == above3.loc[above3["arm"] == "IFX", "responder"].sum()
    assert row["n_control"] == (above3["arm"] == "PBO").sum()
    counts = [
        [row["events_active"], row["n_active"] - row["events_active"]],
        [row["events_control"], row["n_control"] - row["events_control"]],
    ]
    expected_p = (
        sps.fisher_exact(counts).pvalue
        if sps.contingency.expected_freq(counts).min() < 5
        else sps.chi2_contingency(counts, correction=False).pvalue
    )
    assert row["p"] == pytest.approx(expected_p)
    assert row["risk_difference"] == pytest.approx(
        row["events_active"] / row["n_active"] - row["events_control"] / row["n_control"]
    )


def test_table1_uses_the_t_test_or_mann_whitney_and_says_which() -> None:
    rng = np.random.default_rng(3)
    n = 30
    baseline = pd.DataFrame(
        {
            "participant_id": [f"P{i:02d}" for i in range(2 * n)],
            "arm": ["IFX"] * n + ["PBO"] * n,
            # Normal quantiles, shuffled: Shapiro-Wilk cannot reject them.
            "age": rng.permutation(np.tile(sps.norm.ppf(np.linspace(0.02, 0.98, n), 43, 9), 2)),
            "sex": rng.choice(["F", "M"], 2 * n, p=[0.67, 0.33]),
            "bmi": rng.normal(32, 7, 2 * n),
            "bipolar": rng.random(2 * n) < 0.15,
            "baseline_hamd": rng.normal(24, 4, 2 * n),
            # hs-CRP is right-skewed (protocol.md: 6.3 (8.9) mg/L): not normal.
            "baseline_crp_mg_l": rng.lognormal(1.2, 1.0, 2 * n),
        }
    )
    table = report_tables.table1(baseline, ARMS).set_index("characteristic")
    age = table.loc["Age, years"]
    assert age["test"] == "Student t"
    ref = sps.ttest_ind(baseline.loc[baseline["arm"] == "IFX", "age"], baseline.loc[baseline["arm"] == "PBO", "age"])
    assert age["p"] == pytest.approx(ref.pvalue)
    crp = table.loc["hs-CRP, mg/L"]
    assert crp["test"] == "Mann-Whitney U"
    ref_mw = sps.mannwhitneyu(
        baseline.loc[baseline["arm"] == "IFX", "baseline_crp_mg_l"],
        baseline.loc[baseline["arm"] == "PBO", "baseline_crp_mg_l"],
    )
    assert crp["p"] == pytest.approx(ref_mw.pvalue)
    female = table.loc["Female"]
    k = [(baseline.loc[baseline["arm"] == a, "sex"] == "F").sum() for a in ARMS]
    assert female["active"].startswith(f"{k[0]} (")
    assert female["p"] == pytest.approx(
        sps.chi2_contingency([[k[0], n - k[0]], [k[1], n - k[1]]], correction=False).pvalue
    )


def test_table1_compares_an_arm_whose_values_are_all_equal_without_a_normality_test() -> None:
    # Shapiro-Wilk has nothing to test in a constant sample (scipy warns that its P is meaningless):
    # the row is the nonparametric one, with the P scipy's Mann-Whitney gives, and no warning is raised.
    import warnings

    rng = np.random.default_rng(5)
    n = 8
    baseline = pd.DataFrame(
        {
            "participant_id": [f"P{i:02d}" for i in range(2 * n)],
            "arm": ["IFX"] * n + ["PBO"] * n,
            "age": sps.norm.ppf(np.linspace(0.05, 0.95, 2 * n), 43, 9),
            "sex": ["F", "M"] * n,
            "bmi": rng.normal(32, 7, 2 * n),
            "bipolar": [False] * (2 * n),
            "baseline_hamd": [24.0] * n + list(rng.normal(24, 4, n)),
            "baseline_crp_mg_l": rng.lognormal(1.2, 1.0, 2 * n),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = report_tables.table1(baseline, ARMS).set_index("characteristic")
    hamd = table.loc["HAM-D-17 total"]
    assert (hamd["test"], hamd["kind"]) == ("Mann-Whitney U", "median [IQR]")
    ref = sps.mannwhitneyu(baseline["baseline_hamd"][:n], baseline["baseline_hamd"][n:])
    assert hamd["p"] == pytest.approx(ref.pvalue)


def test_table2_reproduces_the_published_urinary_leukocyte_esterase_row() -> None:
    # Published: urinary leukocyte esterase 0/30 vs 10/30 (P < .005); headaches 20 (67%) vs 18 (60%).
    ids = [f"P{i:02d}" for i in range(60)]
    randomized = pd.DataFrame({"participant_id": ids, "arm": ["PBO"] * 30 + ["IFX"] * 30})
    events = pd.DataFrame(
        {
            "participant_id": ids[30:40] + ids[:20] + ids[30:48] + ids[30:31],
            "term": ["Urinary leukocyte esterase"] * 10 + ["Headache"] * 38 + ["headache "],
            "serious": [False] * 49,
        }
    )
    table = report_tables.adverse_event_table(events, randomized, ARMS).set_index("event")
    ule = table.loc["urinary leukocyte esterase"]
    assert (ule["participants_active"], ule["participants_control"]) == (10, 0)
    assert ule["test"] == "Pearson chi-square"
    assert ule["p"] < 0.005
    assert ule["p"] == pytest.approx(sps.chi2_contingency([[10, 20], [0, 30]], correction=False).pvalue)
    headache = table.loc["headache"]
    # A participant with two headache records counts once (participants, not events).
    assert (headache["participants_active"], headache["participants_control"]) == (18, 20)
    assert headache["events_active"] == 19
    assert table.loc["any serious adverse event", "participants_active"] == 0


def test_the_crp_mmrm_sees_a_treatment_effect_on_crp() -> None:
    rng = np.random.default_rng(11)
    rows = []
    for i in range(40):
        arm = "IFX" if i % 2 else "PBO"
        base = rng.lognormal(1.3, 0.6)
        for week in (0, 2, 4, 6, 8, 12):
            drop = 0.0 if week == 0 or arm == "PBO" else 2.0
            rows.append({"participant_id": f"P{i:02d}", "week": week, "value": base - drop + rng.normal(0, 0.5)})
    crp = pd.DataFrame(rows)
    arm_of = pd.Series({f"P{i:02d}": ("IFX" if i % 2 else "PBO") for i in range(40)})
    out = report_tables.crp_mmrm(crp, arm_of, active="IFX")
    assert out["treatment"]["estimate"] == pytest.approx(-2.0, abs=0.5)
    assert out["treatment"]["p"] < 0.001
    assert out["n_subjects"] == 40


def test_data_counts_split_missing_by_design_from_dropout() -> None:
    participants = pd.DataFrame(
        {"participant_id": ["A", "B"], "end_of_study": ["completed", "withdrawn"], "arm": [None, None]}
    )
    visits = pd.DataFrame(
        {
            "participant_id": ["A", "A", "A", "B", "B", "B"],
            "week": [0, 3, 12, 0, 3, 12],
            "status": ["done", "missed", "done", "done", "missed", "missed"],
            "due": [True] * 6,
        }
    )
    hamd = pd.DataFrame({"participant_id": ["A", "A", "B"], "week": [0, 12, 0], "hamd_total": [24, 10, 22]})
    counts = report_tables.data_counts(hamd, visits, participants).set_index("week")
    # Week 3: both skipped; B's counts as dropout (B withdrew), A's by design.
    assert counts.loc[3, ["missing_by_design", "missing_dropout"]].tolist() == [1, 1]
    assert counts.loc[12, ["participants", "missing_dropout"]].tolist() == [1, 1]


def test_lsmeans_leave_out_a_week_an_arm_barely_has_and_say_so() -> None:
    from analysis.stats import sap

    data = simulate_crp_trial(16, seed=1)
    post = data.loc[(data["week"] > 0) & data["chg"].notna()]
    per_cell = post.groupby(["week", "arm"])["participant_id"].nunique()
    sparse = sorted(
        {int(w) for (w, _arm), n in per_cell.items() if n < 3}
        | {int(w) for w in post["week"].unique() if (w, "IFX") not in per_cell or (w, "PBO") not in per_cell}
    )
    assert sparse  # the small trial has a sparse week (week 3, dropped for burden)
    primary = sap.primary_analysis(data)
    assert primary.lsmeans is not None
    assert not set(primary.lsmeans["week"].astype(int)) & set(sparse)
    assert f"weeks {sparse} left out" in primary.lsmeans_note


def test_enrolment_and_retention_count_like_pandas() -> None:
    participants = pd.DataFrame(
        {
            "participant_id": list("ABCDEF"),
            "eligible": [True, True, True, True, False, None],
            "randomization_number": ["R1", "R2", "R3", "R4", None, None],
            "end_of_study": ["completed", "withdrawn", None, "completed", None, None],
        }
    )
    table = report_tables.enrolment_retention(participants).set_index("stage")
    assert "arm" not in participants.columns
    assert table["participants"].to_dict() == {
        "Screened": 6,
        "Screen failures": 1,
        "Randomized": 4,
        "On study": 1,
        "Completed": 2,
        "Withdrawn": 1,
    }
    assert table.loc["Completed", "percent_of_randomized"] == pytest.approx(50.0)
