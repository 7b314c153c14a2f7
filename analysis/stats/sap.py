"""The trial's pre-specified analyses (protocol.md, "Statistical analysis plan").

Every function takes the SAP's long frame, one row per participant x assessed week:

    participant_id, week, hamd_total, baseline, chg[, arm][, baseline_crp_mg_l]

(week 0 is the baseline row; analysis.frames.hamd_long_frame gives this layout) and returns a
frozen dataclass with a JSON-safe `to_dict()`.

- primary_analysis: MMRM of change from baseline, `chg ~ trt * week`, time continuous, AR(1),
  SAS's between-within df (the published t58 / t305); optional LS-means by week from the
  categorical-time unstructured model (the SAP's figures).
- moderation_analysis: adds log baseline hs-CRP, linear and quadratic, and all their
  interactions with treatment and time; key test treatment x time x log hs-CRP; the
  active-minus-control difference at week 12 along baseline hs-CRP with its zero crossing.
- response_table / remission_table: by arm, overall and by baseline hs-CRP > cut-off, Pearson
  chi-square without continuity correction, NNT/NNH from the counts.
- effect_sizes: standardized effect size at week 12 by hs-CRP subgroup.
- pooled_analysis: the BLINDED variant for use during the trial. It refuses a frame that
  carries a treatment column, so it cannot leak the allocation by construction.
- final_analysis: everything above, for the unblinded final run.

The treatment indicator `trt` is 1 for `active` and 0 for `control`: the `trt` coefficient is
the difference at week 0, `week` the control slope and `trt:week` the difference in slopes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.stats.contingency import chi_square_2x2, risk_difference
from analysis.stats.effect_size import standardized_effect_size
from analysis.stats.endpoints import derive_remitters, derive_responders
from analysis.stats.errors import StatsError
from analysis.stats.mmrm import MMRMResult, difference_curve, fit_mmrm

ACTIVE = "IFX"
CONTROL = "PBO"
# protocol.md, "Published results": subgroups by baseline hs-CRP > 5 mg/L.
CRP_CUTOFF_MG_L = 5.0
# protocol.md, "Statistical analysis plan": time continuous, AR(1) (best fit), Wald t tests.
PRIMARY_FORMULA = "chg ~ trt * week"
MODERATION_FORMULA = "chg ~ trt * week * (logcrp + I(logcrp**2))"
PRIMARY_COVARIANCE = "ar1"
# protocol.md, "Statistical analysis plan": time categorical with UN for LS-means by week.
LSMEANS_FORMULA = "chg ~ C(arm, Treatment('{control}')) * C(week)"
LSMEANS_MIN_PER_ARM = 3
# protocol.md, "End points": remission is judged at week 12; effect sizes are at week 12.
END_WEEK = 12
# Columns that would carry the allocation; the blinded analysis refuses them.
ARM_COLUMNS = frozenset({"arm", "arm_code", "arm_label", "trt", "treatment", "allocation"})

_REQUIRED = ("participant_id", "week", "hamd_total", "baseline", "chg")


# ------------------------------------------------------------------------------ JSON helpers
def _json_safe(value: Any) -> Any:
    """Plain Python for json.dumps: NaN/inf -> None, numpy scalars -> float/int, frames -> records."""
    if isinstance(value, pd.DataFrame):
        return [_json_safe(dict(row)) for row in value.reset_index(drop=True).to_dict(orient="records")]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return str(value) if not isinstance(value, str) else value


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        out = _json_safe(self)
        assert isinstance(out, dict)
        return out


# ---------------------------------------------------------------------------- data checks
def _check_columns(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> None:
    missing = [c for c in (*_REQUIRED, *extra) if c not in frame.columns]
    if missing:
        raise ValueError(f"The SAP frame lacks columns {missing}; it has {list(frame.columns)}.")


def _with_treatment(frame: pd.DataFrame, active: object, control: object) -> pd.DataFrame:
    _check_columns(frame, ("arm",))
    arms = set(frame["arm"].dropna().unique())
    unknown = arms - {active, control}
    if unknown:
        raise ValueError(f"arm has values {sorted(map(str, unknown))} besides {active!r} and {control!r}.")
    if frame["arm"].isna().any():
        raise ValueError("arm is missing for some rows: the final analysis needs every participant's arm.")
    out = frame.copy()
    out["trt"] = (out["arm"] == active).astype(float)
    return out


def _post_baseline(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[(frame["week"] > 0) & frame["chg"].notna()].copy()


def _subject_crp(frame: pd.DataFrame) -> pd.Series:
    """Baseline hs-CRP (mg/L) per participant: the first non-missing value."""
    if "baseline_crp_mg_l" not in frame.columns:
        raise ValueError("The frame lacks baseline_crp_mg_l (baseline hs-CRP, mg/L).")
    crp = frame.dropna(subset=["baseline_crp_mg_l"]).groupby("participant_id")["baseline_crp_mg_l"].first()
    if (crp <= 0).any():
        raise ValueError("baseline hs-CRP must be positive to take its log")
    return crp.astype(float)


# ----------------------------------------------------------------------------- MMRM pieces
@dataclass(frozen=True)
class WaldTest(_Serialisable):
    """One fixed effect: estimate, SE, df, t and two-sided P (SAS 'Solution for Fixed Effects')."""

    term: str
    estimate: float
    se: float
    df: float
    t: float
    p: float
    ci_low: float
    ci_high: float

    @classmethod
    def from_result(cls, res: MMRMResult, term: str) -> WaldTest:
        row = res.coefficients.loc[term]
        return cls(
            term=term,
            estimate=float(row["estimate"]),
            se=float(row["se"]),
            df=float(row["df"]),
            t=float(row["t"]),
            p=float(row["p"]),
            ci_low=float(row["ci_low"]),
            ci_high=float(row["ci_high"]),
        )


def _coefficient_table(res: MMRMResult) -> pd.DataFrame:
    return res.coefficients.reset_index()[["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]]


@dataclass(frozen=True)
class PrimaryResult(_Serialisable):
    formula: str
    covariance: str
    df_method: str  # as MMRMResult.df_method, e.g. "between-within"
    df_method_label: str  # the df rule in words for the report's methods, e.g. "... (SAS DDFM=BETWITHIN)"
    n_subjects: int
    n_obs: int
    neg2_loglik: float
    treatment: WaldTest
    time: WaldTest
    treatment_by_time: WaldTest
    coefficients: pd.DataFrame
    lsmeans: pd.DataFrame | None
    lsmeans_note: str


def primary_analysis(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    lsmeans_by_week: bool = True,
) -> PrimaryResult:
    """Primary MMRM: change from baseline ~ treatment, time (weeks), treatment x time; AR(1)."""
    data = _post_baseline(_with_treatment(frame, active, control))
    res = fit_mmrm(data, PRIMARY_FORMULA, subject="participant_id", visit="week", covariance=PRIMARY_COVARIANCE)
    lsm, note = (None, "not requested") if not lsmeans_by_week else _lsmeans_by_week(data, control)
    return PrimaryResult(
        formula=PRIMARY_FORMULA,
        covariance=PRIMARY_COVARIANCE,
        df_method=res.df_method,
        df_method_label=res.df_method_label,
        n_subjects=res.n_subjects,
        n_obs=res.n_obs,
        neg2_loglik=res.neg2_loglik,
        treatment=WaldTest.from_result(res, "trt"),
        time=WaldTest.from_result(res, "week"),
        treatment_by_time=WaldTest.from_result(res, "trt:week"),
        coefficients=_coefficient_table(res),
        lsmeans=lsm,
        lsmeans_note=note,
    )


def _lsmeans_by_week(data: pd.DataFrame, control: object) -> tuple[pd.DataFrame | None, str]:
    """LS-means of the change by week and arm from the categorical-time UN model (figures).

    UN over 8 visits has 36 parameters, which a small or sparse trial may not support (week 3
    was assessed in 11 of 60): then the table is None and the note says why.
    """
    formula = LSMEANS_FORMULA.format(control=control)
    keep = ["week", "arm", "estimate", "se", "df", "ci_low", "ci_high"]
    # A week that an arm barely has (week 3 was dropped for burden: protocol.md, "Schedule of
    # assessments") leaves its week x arm cell inestimable; it is left out, and the note says so.
    per_cell = data.pivot_table(index="week", columns="arm", values="participant_id", aggfunc="nunique", fill_value=0)
    sparse = sorted(int(w) for w, row in per_cell.iterrows() if len(row) < 2 or row.min() < LSMEANS_MIN_PER_ARM)
    if sparse:
        data = data.loc[~data["week"].isin(sparse)]
    left_out = f"; weeks {sparse} left out (fewer than {LSMEANS_MIN_PER_ARM} per arm)" if sparse else ""
    try:
        res = fit_mmrm(data, formula, subject="participant_id", visit="week", covariance="un")
        return res.lsmeans("week*arm").reset_index()[keep], f"{formula}, unstructured covariance (SAP){left_out}"
    except (StatsError, np.linalg.LinAlgError) as exc:
        un_problem = str(exc)
    # Deviation from the SAP, stated in the note: the figure still gets LS-means, from AR(1).
    try:
        res = fit_mmrm(data, formula, subject="participant_id", visit="week", covariance=PRIMARY_COVARIANCE)
        table = res.lsmeans("week*arm").reset_index()[keep]
    except (StatsError, np.linalg.LinAlgError) as exc:
        return None, f"LS-means not estimable: unstructured ({un_problem}); AR(1) ({exc}){left_out}"
    return (
        table,
        f"{formula}, AR(1) covariance: the SAP's unstructured model is not estimable here ({un_problem}){left_out}",
    )


@dataclass(frozen=True)
class ModerationResult(_Serialisable):
    formula: str
    covariance: str
    df_method: str  # as MMRMResult.df_method, e.g. "between-within"
    df_method_label: str  # the df rule in words for the report's methods, e.g. "... (SAS DDFM=BETWITHIN)"
    n_subjects: int
    n_obs: int
    key_test: WaldTest  # treatment x time x log hs-CRP
    coefficients: pd.DataFrame
    week: int
    curve: pd.DataFrame  # crp_mg_l, logcrp, estimate (active - control change), se, ci, p
    crossings_mg_l: tuple[float, ...]
    crossing_mg_l: float | None  # where the active arm starts doing better (estimate turns < 0)


def moderation_analysis(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    week: int = END_WEEK,
    grid_points: int = 121,
) -> ModerationResult:
    """Moderation by log baseline hs-CRP (linear + quadratic, all interactions); AR(1).

    The difference curve is active minus control in change from baseline at `week` (negative:
    the active arm reduced HAM-D more), over a log-spaced grid spanning the observed baseline
    hs-CRP. `crossing_mg_l` is the crossing where the curve goes from positive to negative with
    rising hs-CRP (above it the active arm does better); all crossings are listed too.
    """
    data = _post_baseline(_with_treatment(frame, active, control))
    crp = _subject_crp(frame)
    data["logcrp"] = np.log(data["participant_id"].map(crp).astype(float))
    res = fit_mmrm(data, MODERATION_FORMULA, subject="participant_id", visit="week", covariance=PRIMARY_COVARIANCE)
    used = data.dropna(subset=["logcrp"])
    grid = np.linspace(float(used["logcrp"].min()), float(used["logcrp"].max()), grid_points)
    curve = difference_curve(
        res, over="logcrp", values=grid.tolist(), arm="trt", active=1.0, control=0.0, at={"week": week}
    )
    table = curve.table[["logcrp", "estimate", "se", "df", "p", "ci_low", "ci_high"]].copy()
    table.insert(0, "crp_mg_l", np.exp(table["logcrp"]))
    crossings = tuple(float(np.exp(c)) for c in curve.crossings)
    slope_sign = [_slope_at(table, math.log(c)) for c in crossings]
    falling = [c for c, s in zip(crossings, slope_sign, strict=True) if s < 0]
    return ModerationResult(
        formula=MODERATION_FORMULA,
        covariance=PRIMARY_COVARIANCE,
        df_method=res.df_method,
        df_method_label=res.df_method_label,
        n_subjects=res.n_subjects,
        n_obs=res.n_obs,
        key_test=WaldTest.from_result(res, "trt:week:logcrp"),
        coefficients=_coefficient_table(res),
        week=week,
        curve=table,
        crossings_mg_l=crossings,
        crossing_mg_l=falling[0] if falling else None,
    )


def _slope_at(table: pd.DataFrame, logcrp: float) -> float:
    x = table["logcrp"].to_numpy()
    y = table["estimate"].to_numpy()
    i = int(np.clip(np.searchsorted(x, logcrp), 1, len(x) - 1))
    return float((y[i] - y[i - 1]) / (x[i] - x[i - 1]))


# ------------------------------------------------------------------------- binary end points
@dataclass(frozen=True)
class TwoByTwo(_Serialisable):
    """One end point in one subgroup: counts by arm, Pearson chi-square, risk difference, NNT/NNH."""

    subgroup: str
    events_active: int
    n_active: int
    events_control: int
    n_control: int
    percent_active: float
    percent_control: float
    chi2: float
    df: int
    p: float
    risk_difference: float
    rd_ci_low: float
    rd_ci_high: float
    number_needed: float | None  # None when the proportions are equal
    number_needed_label: str  # NNT (active better), NNH (active worse), or "" (equal)


@dataclass(frozen=True)
class EndpointTable(_Serialisable):
    outcome: str
    definition: str
    rows: tuple[TwoByTwo, ...]

    def row(self, subgroup: str) -> TwoByTwo:
        return next(r for r in self.rows if r.subgroup == subgroup)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows])


def _two_by_two(subgroup: str, per_subject: pd.DataFrame, outcome: str, active: object, control: object) -> TwoByTwo:
    a = per_subject.loc[per_subject["arm"] == active, outcome].astype(bool)
    c = per_subject.loc[per_subject["arm"] == control, outcome].astype(bool)
    ea, na, ec, nc = int(a.sum()), len(a), int(c.sum()), len(c)
    if min(na, nc) == 0:
        raise ValueError(f"subgroup {subgroup!r} has no participants in one arm ({na} vs {nc})")
    if ea + ec in (0, na + nc):
        # Everyone or no one had the outcome: the chi-square is 0 by definition, P = 1.
        chi2, df, p = 0.0, 1, 1.0
    else:
        # protocol.md, "Published results": Pearson chi-square WITHOUT continuity correction.
        test = chi_square_2x2(ea, na, ec, nc, correction=False)
        chi2, df, p = test.statistic, test.df, test.p
    rd = risk_difference(ea, na, ec, nc, outcome_is_benefit=True)
    return TwoByTwo(
        subgroup=subgroup,
        events_active=ea,
        n_active=na,
        events_control=ec,
        n_control=nc,
        percent_active=100.0 * ea / na,
        percent_control=100.0 * ec / nc,
        chi2=chi2,
        df=df,
        p=p,
        risk_difference=rd.difference,
        rd_ci_low=rd.ci_low,
        rd_ci_high=rd.ci_high,
        number_needed=rd.number_needed,
        number_needed_label=rd.label or "",
    )


def _subgroup_rows(
    per_subject: pd.DataFrame, outcome: str, active: object, control: object, crp_cutoff: float | None
) -> tuple[TwoByTwo, ...]:
    rows = [_two_by_two("overall", per_subject, outcome, active, control)]
    if crp_cutoff is not None:
        crp = per_subject["baseline_crp_mg_l"]
        label = f"{crp_cutoff:g}"
        rows.append(_two_by_two(f"hs-CRP > {label}", per_subject.loc[crp > crp_cutoff], outcome, active, control))
        rows.append(_two_by_two(f"hs-CRP <= {label}", per_subject.loc[crp <= crp_cutoff], outcome, active, control))
    return tuple(rows)


def _per_subject(frame: pd.DataFrame, derived: pd.DataFrame, crp_cutoff: float | None) -> pd.DataFrame:
    arms = frame.groupby("participant_id")["arm"].first()
    out = derived.set_index("participant_id")
    out["arm"] = arms.reindex(out.index)
    if crp_cutoff is not None:
        out["baseline_crp_mg_l"] = _subject_crp(frame).reindex(out.index)
    return out.reset_index()


def response_table(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    crp_cutoff: float | None = CRP_CUTOFF_MG_L,
    missing_as_failure: bool = True,
) -> EndpointTable:
    """Response (>= 50% HAM-D reduction from baseline at ANY visit) by arm, overall and by
    baseline hs-CRP > / <= `crp_cutoff` (None: overall only).

    Intent to treat: a participant with a baseline but no post-baseline HAM-D counts as a
    non-responder (`missing_as_failure=False` drops them instead). No baseline: not counted.
    """
    data = _with_treatment(frame, active, control)
    derived = derive_responders(data, subject="participant_id", week="week", score="hamd_total")
    derived = derived.loc[derived["baseline"].notna()]
    derived["responder"] = derived["responder"].fillna(False) if missing_as_failure else derived["responder"]
    per_subject = _per_subject(data, derived.dropna(subset=["responder"]), crp_cutoff)
    return EndpointTable(
        outcome="response",
        definition=">= 50% reduction in HAM-D-17 from baseline at any visit",
        rows=_subgroup_rows(per_subject, "responder", active, control, crp_cutoff),
    )


def remission_table(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    crp_cutoff: float | None = CRP_CUTOFF_MG_L,
    missing_as_failure: bool = True,
) -> EndpointTable:
    """Remission (HAM-D <= 7 at week 12) by arm, overall and by hs-CRP subgroup.

    Intent to treat: a randomized participant (has a baseline) without a week-12 HAM-D counts
    as a non-remitter (`missing_as_failure=False` drops them instead).
    """
    data = _with_treatment(frame, active, control)
    with_baseline = set(data.loc[(data["week"] == 0) & data["hamd_total"].notna(), "participant_id"])
    derived = derive_remitters(
        data, subject="participant_id", week="week", score="hamd_total", missing_as_failure=missing_as_failure
    )
    derived = derived.loc[derived["participant_id"].isin(with_baseline)].dropna(subset=["remitter"])
    per_subject = _per_subject(data, derived, crp_cutoff)
    return EndpointTable(
        outcome="remission",
        definition=f"HAM-D-17 <= 7 at week {END_WEEK}",
        rows=_subgroup_rows(per_subject, "remitter", active, control, crp_cutoff),
    )


# ----------------------------------------------------------------------------- effect sizes
@dataclass(frozen=True)
class EffectSizes(_Serialisable):
    week: int
    table: pd.DataFrame  # subgroup, n_active, n_control, mean_chg_active, mean_chg_control, difference, sd_pooled, d


def effect_sizes(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    week: int = END_WEEK,
    crp_cutoff: float = CRP_CUTOFF_MG_L,
) -> EffectSizes:
    """Standardized effect size of the change at `week` (observed cases), overall and by
    baseline hs-CRP > / <= cut-off. Positive d favours the active arm (larger reduction);
    `difference` is mean change active minus control (negative: active reduced HAM-D more)."""
    data = _with_treatment(frame, active, control)
    crp = _subject_crp(data)
    data["baseline_crp_mg_l"] = data["participant_id"].map(crp)
    label = f"{crp_cutoff:g}"
    groups = {
        "overall": data,
        f"hs-CRP > {label}": data.loc[data["baseline_crp_mg_l"] > crp_cutoff],
        f"hs-CRP <= {label}": data.loc[data["baseline_crp_mg_l"] <= crp_cutoff],
    }
    rows = []
    for name, sub in groups.items():
        es = standardized_effect_size(
            sub, value="chg", group="arm", active=active, control=control, visit_column="week", visit=week
        )
        rows.append(
            {
                "subgroup": name,
                "n_active": es.n_active,
                "n_control": es.n_control,
                "mean_chg_active": es.mean_active,
                "mean_chg_control": es.mean_control,
                "difference": es.mean_active - es.mean_control,
                "sd_pooled": es.sd_pooled,
                "d": es.d,
            }
        )
    return EffectSizes(week=week, table=pd.DataFrame(rows))


# ------------------------------------------------------------------------- blinded (pooled)
@dataclass(frozen=True)
class PooledResult(_Serialisable):
    """Pooled over arms: what a blinded statistician may see during the trial."""

    formula: str
    covariance: str
    df_method: str  # as MMRMResult.df_method, e.g. "between-within"
    df_method_label: str  # the df rule in words for the report's methods, e.g. "... (SAS DDFM=BETWITHIN)"
    n_subjects: int
    n_obs: int
    time: WaldTest
    coefficients: pd.DataFrame
    by_week: pd.DataFrame  # week, expected, observed, missing, percent_missing, mean/sd of hamd and chg


POOLED_FORMULA = "chg ~ week"


def pooled_analysis(frame: pd.DataFrame, *, due: pd.DataFrame | None = None) -> PooledResult:
    """Blinded analysis: time effect (chg ~ week, AR(1)), pooled means and missingness by week.

    Refuses a frame with any treatment column (ARM_COLUMNS): the caller must build it without
    the arm, so nothing downstream can split by it. `due` (participant_id, week) lists the visits
    that are due; see pooled_by_week.
    """
    leaked = sorted(ARM_COLUMNS & set(frame.columns))
    if due is not None:
        leaked += sorted(ARM_COLUMNS & set(due.columns))
    if leaked:
        raise ValueError(f"The blinded analysis must not receive treatment columns; got {leaked}.")
    _check_columns(frame)
    data = _post_baseline(frame)
    res = fit_mmrm(data, POOLED_FORMULA, subject="participant_id", visit="week", covariance=PRIMARY_COVARIANCE)
    return PooledResult(
        formula=POOLED_FORMULA,
        covariance=PRIMARY_COVARIANCE,
        df_method=res.df_method,
        df_method_label=res.df_method_label,
        n_subjects=res.n_subjects,
        n_obs=res.n_obs,
        time=WaldTest.from_result(res, "week"),
        coefficients=_coefficient_table(res),
        by_week=pooled_by_week(frame, due=due),
    )


def pooled_by_week(
    frame: pd.DataFrame, weeks: tuple[int, ...] | None = None, *, due: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per week: participants expected, observed, missing, and pooled mean/SD of the HAM-D total
    and its change. `weeks` defaults to the weeks present.

    Expected: participants with a baseline HAM-D. When `due` (participant_id, week) is given, only
    those whose visit of that week is due: mid-trial, a visit whose window has not yet closed is
    not missing (ICH E9 missing data: a value not yet due is not a missing value), and an observed
    visit always counts as due.
    """
    scored = frame.dropna(subset=["hamd_total"])
    with_baseline = set(scored.loc[scored["week"] == 0, "participant_id"])
    all_weeks = sorted({int(w) for w in scored["week"]} | set(weeks or ()))
    if due is not None:
        all_weeks = sorted(set(all_weeks) | {int(w) for w in due["week"]})
    rows = []
    for week in all_weeks:
        at = scored.loc[scored["week"] == week]
        seen = set(at["participant_id"])
        if due is None:
            expected_ids = with_baseline
        else:
            due_ids = set(due.loc[due["week"] == week, "participant_id"])
            expected_ids = (due_ids | seen) & with_baseline
        expected = len(expected_ids)
        observed = len(seen)
        missing = len(expected_ids - seen)
        rows.append(
            {
                "week": week,
                "expected": expected,
                "observed": observed,
                "missing": missing,
                "percent_missing": 100.0 * missing / expected if expected else float("nan"),
                "mean_hamd": float(at["hamd_total"].mean()) if observed else float("nan"),
                "sd_hamd": float(at["hamd_total"].std()) if observed > 1 else float("nan"),
                "mean_chg": float(at["chg"].mean()) if observed else float("nan"),
                "sd_chg": float(at["chg"].std()) if observed > 1 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ final (all)
@dataclass(frozen=True)
class FinalAnalysis(_Serialisable):
    active: str
    control: str
    crp_cutoff_mg_l: float
    primary: PrimaryResult
    moderation: ModerationResult
    response: EndpointTable
    remission: EndpointTable
    effect_sizes: EffectSizes


def final_analysis(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    crp_cutoff: float = CRP_CUTOFF_MG_L,
    lsmeans_by_week: bool = True,
) -> FinalAnalysis:
    """The whole SAP on the unblinded frame (arm and baseline_crp_mg_l needed)."""
    return FinalAnalysis(
        active=str(active),
        control=str(control),
        crp_cutoff_mg_l=crp_cutoff,
        primary=primary_analysis(frame, active=active, control=control, lsmeans_by_week=lsmeans_by_week),
        moderation=moderation_analysis(frame, active=active, control=control),
        response=response_table(frame, active=active, control=control, crp_cutoff=crp_cutoff),
        remission=remission_table(frame, active=active, control=control, crp_cutoff=crp_cutoff),
        effect_sizes=effect_sizes(frame, active=active, control=control, crp_cutoff=crp_cutoff),
    )


def final_summary(
    frame: pd.DataFrame,
    *,
    active: object = ACTIVE,
    control: object = CONTROL,
    crp_cutoff: float = CRP_CUTOFF_MG_L,
    lsmeans_by_week: bool = True,
) -> dict[str, Any]:
    """final_analysis as a JSON-safe dict, one section at a time.

    A section that these data cannot support (an interim dataset with few week-12 scores, a
    model that does not converge) becomes {"error": "..."} instead of failing the whole run,
    so the sections that can be estimated are still reported.
    """
    sections: dict[str, Any] = {
        "primary": lambda: primary_analysis(frame, active=active, control=control, lsmeans_by_week=lsmeans_by_week),
        "moderation": lambda: moderation_analysis(frame, active=active, control=control),
        "response": lambda: response_table(frame, active=active, control=control, crp_cutoff=crp_cutoff),
        "remission": lambda: remission_table(frame, active=active, control=control, crp_cutoff=crp_cutoff),
        "effect_sizes": lambda: effect_sizes(frame, active=active, control=control, crp_cutoff=crp_cutoff),
    }
    out: dict[str, Any] = {"active": str(active), "control": str(control), "crp_cutoff_mg_l": crp_cutoff}
    for name, compute in sections.items():
        try:
            out[name] = compute().to_dict()
        except (StatsError, ValueError, np.linalg.LinAlgError) as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
