"""The final report's tables beyond the MMRMs (protocol.md, "Statistical analysis plan" and the
published report's structure): CONSORT flow counts, Table 1, Table 2 (adverse events), binary
end points at several hs-CRP cut-offs, the longitudinal hs-CRP MMRM, biomarker comparisons and
data counts. Django-free: plain frames in, frames or dicts out.

Frames (as analysis.frames builds them, with the arm only in unblinded runs):
- participants: participant_id, sex, age, bmi, bipolar, eligible, failed_criteria, status,
  end_of_study, end_reason, arm
- visits: participant_id, week, status, scheduled_date, due, infused
- hamd: participant_id, week, hamd_total, baseline, chg
- crp: participant_id, week, value (hs-CRP, mg/L)
- adverse events: participant_id, term, serious
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.stats as sps

from analysis.stats import sap
from analysis.stats.contingency import chi_square_2x2, fisher_exact_2x2, risk_difference
from analysis.stats.mmrm import fit_mmrm
from analysis.stats.ttests import mann_whitney, t_test

# protocol.md, "Published results": subgroups by baseline hs-CRP > 1, > 3 and > 5 mg/L.
CRP_CUTOFFS_MG_L = (1.0, 3.0, 5.0)
# Cochran's rule: the chi-square approximation needs every expected count >= 5; below it the
# exact test is reported (and the table says so).
MIN_EXPECTED = 5.0
# Shapiro-Wilk below this P in either arm: the baseline comparison is nonparametric (SAP:
# "nonparametric where not normal").
NORMALITY_ALPHA = 0.05


def _pct(n: int, d: int) -> float:
    return 100.0 * n / d if d else float("nan")


def two_by_two_test(ea: int, na: int, ec: int, nc: int) -> dict[str, Any]:
    """Pearson chi-square without continuity correction, or Fisher's exact test when any expected
    count is < 5, saying which."""
    if ea + ec in (0, na + nc):
        return {"test": "none (no variation)", "chi2": None, "p": 1.0, "min_expected": None}
    chi = chi_square_2x2(ea, na, ec, nc, correction=False)
    if chi.min_expected < MIN_EXPECTED:
        fisher = fisher_exact_2x2(ea, na, ec, nc)
        return {
            "test": "Fisher exact (expected < 5)",
            "chi2": chi.statistic,
            "p": fisher.p,
            "min_expected": chi.min_expected,
        }
    return {"test": "Pearson chi-square", "chi2": chi.statistic, "p": chi.p, "min_expected": chi.min_expected}


# ------------------------------------------------------------------------------------- CONSORT
def consort_counts(
    participants: pd.DataFrame, visits: pd.DataFrame, analysed: set[Any], arms: tuple[str, str]
) -> dict[str, Any]:
    """CONSORT 2010 flow: screened, excluded by reason, randomized, infused, completed, withdrawn by
    reason and analysed, by arm."""
    failures = participants.loc[participants["eligible"] == False]  # noqa: E712 - None (unscreened) is not a failure
    reasons: dict[str, int] = {}
    for text in failures["failed_criteria"].fillna(""):
        for reason in filter(None, str(text).split(";")):
            reasons[reason] = reasons.get(reason, 0) + 1
    randomized = participants.loc[participants["arm"].notna()]
    infusions = visits.loc[visits["infused"].astype(bool)].groupby("participant_id").size()
    by_arm: dict[str, Any] = {}
    for arm in arms:
        ids = randomized.loc[randomized["arm"] == arm]
        n_inf = ids["participant_id"].map(infusions).fillna(0).astype(int)
        withdrawn = ids.loc[ids["end_of_study"].notna() & (ids["end_of_study"] != "completed")]
        by_arm[arm] = {
            "randomized": len(ids),
            "received_any_infusion": int((n_inf > 0).sum()),
            "received_all_infusions": int((n_inf >= 3).sum()),
            "completed": int((ids["end_of_study"] == "completed").sum()),
            "withdrawn": len(withdrawn),
            "withdrawn_by_reason": {
                str(k): int(v)
                for k, v in sorted(
                    withdrawn["end_reason"].fillna("not given").replace("", "not given").value_counts().items()
                )
            },
            "analysed": int(ids["participant_id"].isin(analysed).sum()),
        }
    return {
        "screened": len(participants),
        "screen_failures": len(failures),
        "screen_failures_by_reason": dict(sorted(reasons.items())),
        "randomized": len(randomized),
        "by_arm": by_arm,
    }


# ---------------------------------------------------------------------------------- Table 1
def _continuous_row(label: str, data: pd.DataFrame, column: str, arms: tuple[str, str]) -> dict[str, Any]:
    a, c = arms
    xa = data.loc[data["arm"] == a, column].dropna().astype(float)
    xc = data.loc[data["arm"] == c, column].dropna().astype(float)
    # Shapiro-Wilk needs at least 3 values that are not all equal: an arm whose values are all one number
    # (a small trial, or a measure recorded in steps) has no shape to test, so it is summarised and
    # compared nonparametrically rather than by a P that scipy warns is meaningless.
    normal = all(len(x) >= 3 and x.min() < x.max() and sps.shapiro(x).pvalue >= NORMALITY_ALPHA for x in (xa, xc))
    frame = data[["arm", column]].astype({column: float})
    # SAP: t tests; Student's (pooled variance) as in the SAP, Mann-Whitney where not normal.
    test = (
        t_test(frame, value=column, group="arm", a=a, b=c, equal_var=True)
        if normal
        else mann_whitney(frame, value=column, group="arm", a=a, b=c)
    )
    return {
        "characteristic": label,
        "kind": "mean (SD)" if normal else "median [IQR]",
        "active": _summary(xa, normal),
        "control": _summary(xc, normal),
        "n_active": len(xa),
        "n_control": len(xc),
        "test": "Student t" if normal else "Mann-Whitney U",
        "statistic": test.statistic,
        "p": test.p,
    }


def _summary(x: pd.Series, normal: bool) -> str:
    if not len(x):
        return "-"
    if normal:
        return f"{x.mean():.1f} ({x.std():.1f})"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{med:.1f} [{q1:.1f}, {q3:.1f}]"


def _binary_row(label: str, data: pd.DataFrame, flag: pd.Series, arms: tuple[str, str]) -> dict[str, Any]:
    a, c = arms
    fa, fc = flag[data["arm"] == a].dropna().astype(bool), flag[data["arm"] == c].dropna().astype(bool)
    test = two_by_two_test(int(fa.sum()), len(fa), int(fc.sum()), len(fc))
    return {
        "characteristic": label,
        "kind": "n (%)",
        "active": f"{int(fa.sum())} ({_pct(int(fa.sum()), len(fa)):.0f}%)",
        "control": f"{int(fc.sum())} ({_pct(int(fc.sum()), len(fc)):.0f}%)",
        "n_active": len(fa),
        "n_control": len(fc),
        "test": test["test"],
        "statistic": test["chi2"],
        "p": test["p"],
    }


def table1(baseline: pd.DataFrame, arms: tuple[str, str]) -> pd.DataFrame:
    """Baseline characteristics by arm. `baseline`: one row per randomized participant with arm,
    age, sex, bmi, bipolar, baseline_hamd, baseline_crp_mg_l."""
    rows = [
        _continuous_row("Age, years", baseline, "age", arms),
        _binary_row("Female", baseline, baseline["sex"] == "F", arms),
        _continuous_row("BMI, kg/m2", baseline, "bmi", arms),
        _continuous_row("hs-CRP, mg/L", baseline, "baseline_crp_mg_l", arms),
        _continuous_row("HAM-D-17 total", baseline, "baseline_hamd", arms),
        _binary_row("Bipolar disorder", baseline, baseline["bipolar"].astype("boolean"), arms),
    ]
    for cut in CRP_CUTOFFS_MG_L[1:]:
        rows.append(_binary_row(f"hs-CRP > {cut:g} mg/L", baseline, baseline["baseline_crp_mg_l"] > cut, arms))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------- Table 2
def adverse_event_table(events: pd.DataFrame, randomized: pd.DataFrame, arms: tuple[str, str]) -> pd.DataFrame:
    """Participants with at least one event of each term, by arm, with the 2x2 test (protocol.md,
    "End points": AE rates by chi-square). Denominator: randomized participants of the arm."""
    a, c = arms
    n = {arm: int((randomized["arm"] == arm).sum()) for arm in arms}
    arm_of = randomized.set_index("participant_id")["arm"]
    ev = events.assign(arm=events["participant_id"].map(arm_of)).dropna(subset=["arm"])
    ev = ev.assign(term=ev["term"].str.strip().str.lower())
    rows = []
    groups = [("any adverse event", ev), ("any serious adverse event", ev.loc[ev["serious"].astype(bool)])]
    groups += [(str(term), sub) for term, sub in sorted(ev.groupby("term"), key=lambda t: str(t[0]))]
    for term, sub in groups:
        ka = int(sub.loc[sub["arm"] == a, "participant_id"].nunique())
        kc = int(sub.loc[sub["arm"] == c, "participant_id"].nunique())
        test = two_by_two_test(ka, n[a], kc, n[c]) if n[a] and n[c] else {"test": "", "chi2": None, "p": None}
        rows.append(
            {
                "event": term,
                "participants_active": ka,
                "percent_active": _pct(ka, n[a]),
                "events_active": int((sub["arm"] == a).sum()),
                "participants_control": kc,
                "percent_control": _pct(kc, n[c]),
                "events_control": int((sub["arm"] == c).sum()),
                "test": test["test"],
                "chi2": test["chi2"],
                "p": test["p"],
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ binary end points
def endpoint_by_cutoffs(frame: pd.DataFrame, *, outcome: str, active: str, control: str) -> pd.DataFrame:
    """Response or remission overall and above/at-or-below each hs-CRP cut-off, with chi-square
    (Fisher when an expected count is < 5), risk difference with 95% CI and NNT/NNH."""
    build = sap.response_table if outcome == "response" else sap.remission_table
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for cut in CRP_CUTOFFS_MG_L:
        try:
            table = build(frame, active=active, control=control, crp_cutoff=cut)
        except ValueError as exc:
            # A cut-off that leaves one arm empty in a subgroup (a small trial) has no test; the other
            # cut-offs are still reported, and this one says why it is missing.
            rows.append({"subgroup": f"hs-CRP cut-off {cut:g} mg/L", "test": f"not estimable: {exc}"})
            continue
        for r in table.rows:
            if r.subgroup in seen:
                continue
            seen.add(r.subgroup)
            test = two_by_two_test(r.events_active, r.n_active, r.events_control, r.n_control)
            rd = risk_difference(r.events_active, r.n_active, r.events_control, r.n_control)
            rows.append(
                {
                    "subgroup": r.subgroup,
                    "events_active": r.events_active,
                    "n_active": r.n_active,
                    "percent_active": r.percent_active,
                    "events_control": r.events_control,
                    "n_control": r.n_control,
                    "percent_control": r.percent_control,
                    "test": test["test"],
                    "chi2": test["chi2"],
                    "p": test["p"],
                    "risk_difference": rd.difference,
                    "rd_ci_low": rd.ci_low,
                    "rd_ci_high": rd.ci_high,
                    "number_needed": rd.number_needed,
                    "number_needed_label": rd.label or "",
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- hs-CRP over time
def crp_frame(crp: pd.DataFrame) -> pd.DataFrame:
    """hs-CRP long frame with baseline (week 0) and change from baseline."""
    data = crp.dropna(subset=["value"]).groupby(["participant_id", "week"], as_index=False)["value"].first()
    base = data.loc[data["week"] == 0].set_index("participant_id")["value"]
    data["baseline"] = data["participant_id"].map(base)
    data["chg"] = data["value"] - data["baseline"]
    return data


def crp_mmrm(crp: pd.DataFrame, arm_of: pd.Series, *, active: str) -> dict[str, Any]:
    """The primary model applied to hs-CRP (SAP: "Same MMRM applied to longitudinal hs-CRP"):
    change from baseline ~ treatment * week, AR(1), between-within df."""
    data = crp_frame(crp)
    data["trt"] = (data["participant_id"].map(arm_of) == active).astype(float)
    post = data.loc[(data["week"] > 0) & data["chg"].notna()]
    res = fit_mmrm(post, sap.PRIMARY_FORMULA, subject="participant_id", visit="week", covariance=sap.PRIMARY_COVARIANCE)
    return {
        "formula": sap.PRIMARY_FORMULA.replace("chg", "hs-CRP change"),
        "n_subjects": res.n_subjects,
        "n_obs": res.n_obs,
        "df_method_label": res.df_method_label,
        "coefficients": sap._coefficient_table(res),
        "treatment": sap.WaldTest.from_result(res, "trt").to_dict(),
        "time": sap.WaldTest.from_result(res, "week").to_dict(),
        "treatment_by_time": sap.WaldTest.from_result(res, "trt:week").to_dict(),
    }


def biomarker_comparisons(
    crp: pd.DataFrame,
    responders: pd.DataFrame,
    arm_of: pd.Series,
    *,
    active: str,
    control: str,
    week: int = sap.END_WEEK,
) -> pd.DataFrame:
    """protocol.md "Exploratory": baseline hs-CRP of responders vs non-responders within each arm,
    and the change baseline -> week 12 in responders, infliximab vs placebo (Welch t tests)."""
    data = crp_frame(crp)
    base = data.loc[data["week"] == 0].set_index("participant_id")["value"]
    change = data.loc[data["week"] == week].set_index("participant_id")["chg"]
    subj = responders.set_index("participant_id")[["responder"]].copy()
    subj["arm"] = subj.index.map(arm_of)
    subj["baseline_crp"] = subj.index.map(base)
    subj["crp_change"] = subj.index.map(change)
    subj["group"] = np.where(subj["responder"].astype(bool), "responders", "non-responders")
    rows = []
    for arm in (control, active):
        within = subj.loc[subj["arm"] == arm]
        rows.append(_compare(f"Baseline hs-CRP, {arm}", within, "baseline_crp", "responders", "non-responders"))
    resp = subj.loc[subj["responder"].astype(bool)].assign(group=lambda d: d["arm"])
    rows.append(_compare(f"hs-CRP change week 0 to {week}, responders", resp, "crp_change", active, control))
    return pd.DataFrame(rows)


def _compare(label: str, data: pd.DataFrame, value: str, a: str, b: str) -> dict[str, Any]:
    xa = data.loc[data["group"] == a, value].dropna()
    xb = data.loc[data["group"] == b, value].dropna()
    row: dict[str, Any] = {
        "comparison": label,
        "group_a": a,
        "n_a": len(xa),
        "mean_a": float(xa.mean()) if len(xa) else None,
        "sd_a": float(xa.std()) if len(xa) > 1 else None,
        "group_b": b,
        "n_b": len(xb),
        "mean_b": float(xb.mean()) if len(xb) else None,
        "sd_b": float(xb.std()) if len(xb) > 1 else None,
        "test": "Welch t",
        "t": None,
        "df": None,
        "p": None,
    }
    if len(xa) >= 2 and len(xb) >= 2:
        res = t_test(data.astype({value: float}), value=value, group="group", a=a, b=b)
        row.update(t=res.statistic, df=res.df, p=res.p)
    else:
        row["test"] = "not estimable (fewer than 2 per group)"
    return row


# --------------------------------------------------------------------------------- data counts
def data_counts(hamd: pd.DataFrame, visits: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Per visit week: participants with a HAM-D, observations, and the due visits without one split
    into missing by design (the participant was still on study: a skipped or dropped assessment,
    protocol.md "Schedule of assessments") and dropout (after the participant's end of study)."""
    withdrawn = set(
        participants.loc[
            participants["end_of_study"].notna() & (participants["end_of_study"] != "completed"), "participant_id"
        ]
    )
    scored = hamd.dropna(subset=["hamd_total"])
    has = set(zip(scored["participant_id"], scored["week"], strict=True))
    due = visits.loc[visits["due"].astype(bool)]
    rows = []
    for week in sorted({int(w) for w in visits["week"]} | {int(w) for w in scored["week"]}):
        at = due.loc[due["week"] == week]
        without = at.loc[[(p, week) not in has for p in at["participant_id"]]]
        dropout = without["participant_id"].isin(withdrawn) & (without["status"] != "done")
        rows.append(
            {
                "week": week,
                "participants": int(scored.loc[scored["week"] == week, "participant_id"].nunique()),
                "observations": int((scored["week"] == week).sum()),
                "due": len(at),
                "missing_by_design": int((~dropout).sum()),
                "missing_dropout": int(dropout.sum()),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ blinded (pooled)
def data_quality(visits: pd.DataFrame, queries: pd.DataFrame, *, today: Any) -> pd.DataFrame:
    """Blinded data-quality metrics (ICH E6(R3) risk-based quality management), pooled over arms and
    read from columns that hold no arm: visits due, done, missed and done after their window;
    HAM-D-bearing visits still without a date once due; data queries by status, open ones' ages in
    days, and queries per 100 visits done. Each row: metric, value, and the denominator it is of."""
    due = visits.loc[visits["due"].astype(bool)] if len(visits) else visits
    done = due.loc[due["status"] == "done"] if len(due) else due
    late = int((pd.to_datetime(done["actual_date"]) > pd.to_datetime(done["window_end"])).sum()) if len(done) else 0
    missed = int((due["status"] == "missed").sum()) if len(due) else 0
    not_entered = int((due["status"] == "scheduled").sum()) if len(due) else 0
    status = queries["status"] if len(queries) else pd.Series(dtype=str)
    open_q = queries.loc[status.isin(["open", "answered"])] if len(queries) else queries
    # Calendar days since the query was opened (its UTC date), as the query list shows ages.
    ages = (
        (
            pd.Timestamp(today) - pd.to_datetime(open_q["opened_at"], utc=True).dt.tz_localize(None).dt.normalize()
        ).dt.days
        if len(open_q)
        else pd.Series(dtype=float)
    )
    rows = [
        ("Visits due", len(due), None),
        ("Visits done", len(done), _pct(len(done), len(due)) if len(due) else None),
        ("Visits missed", missed, _pct(missed, len(due)) if len(due) else None),
        ("Due visits not yet entered", not_entered, _pct(not_entered, len(due)) if len(due) else None),
        ("Visits done after their window", late, _pct(late, len(done)) if len(done) else None),
        ("Data queries", len(queries), None),
        ("Queries open or answered", len(open_q), _pct(len(open_q), len(queries)) if len(queries) else None),
        ("Queries closed", int((status == "closed").sum()), None),
        ("Median age of open queries (days)", float(ages.median()) if len(ages) else None, None),
        ("Oldest open query (days)", int(ages.max()) if len(ages) else None, None),
        ("Queries per 100 visits done", round(100 * len(queries) / len(done), 1) if len(done) else None, None),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "percent"])


def enrolment_retention(participants: pd.DataFrame) -> pd.DataFrame:
    """Pooled over arms (no arm column is read): screened, screen failures, randomized, and of
    those still on study, completed and withdrawn, with the percentage of the randomized."""
    randomized = participants.loc[participants["randomization_number"].notna()]
    n = len(randomized)
    ended = randomized["end_of_study"]
    rows = [
        ("Screened", len(participants), None),
        ("Screen failures", int((participants["eligible"] == False).sum()), None),  # noqa: E712 - None is not a failure
        ("Randomized", n, 100.0 if n else None),
        ("On study", int(ended.isna().sum()), _pct(int(ended.isna().sum()), n) if n else None),
        ("Completed", int((ended == "completed").sum()), _pct(int((ended == "completed").sum()), n) if n else None),
        (
            "Withdrawn",
            int((ended.notna() & (ended != "completed")).sum()),
            _pct(int((ended.notna() & (ended != "completed")).sum()), n) if n else None,
        ),
    ]
    return pd.DataFrame(rows, columns=["stage", "participants", "percent_of_randomized"])
