"""Ours-vs-SAS comparison on the external reference (fev_data.csv, SAS PROC MIXED listings).

    python -m tests.analysis.stats.sas_reference            # markdown table of every compared number
    python -m tests.analysis.stats.sas_reference --summary  # one line per model
    python -m tests.analysis.stats.sas_reference --kr       # Kenward-Roger table (analysis/stats/README.md)

The reference is copied into the repository, `tests/data/sas/` (its README says where it comes from), so a
fresh clone validates with nothing beside it. The test
suite (tests/analysis/stats/test_mmrm_sas_reference.py) asserts the same comparisons.

Name mapping: SAS `ARMCD[TRT]` is patsy's `C(ARMCD, Treatment('PBO'))[T.TRT]` (see
_design.sas_coefficient_name); interactions are compared as sets of parts because SAS and patsy
order them differently. SAS's `CLASS AVISIT(ref='VIS1')` moves VIS1 to the *last* level, so SAS's
UN(i,j) index visits in the order VIS2, VIS3, VIS4, VIS1 for that model.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.stats._design import sas_coefficient_name
from analysis.stats.mmrm import MMRMResult, fit_mmrm

ARM = "C(ARMCD, Treatment('PBO'))"
SEX = "C(SEX, Treatment('Male'))"
RACE = "C(RACE, Treatment('Asian'))"
VISIT = "C(AVISIT, Treatment('VIS1'))"


@dataclass(frozen=True)
class ModelSpec:
    """How one SAS model is written for fit_mmrm."""

    formula: str
    covariance: str
    # SAS's level order of the repeated effect (CLASS ref= moves the reference level last).
    sas_visit_order: tuple[str, ...] = ("VIS1", "VIS2", "VIS3", "VIS4")


MODEL_SPECS: dict[str, ModelSpec] = {
    "ar1_intercept": ModelSpec("FEV1 ~ 1", "ar1"),
    "cs_intercept": ModelSpec("FEV1 ~ 1", "cs"),
    "ar1_armcd_sex": ModelSpec(f"FEV1 ~ {ARM} + {SEX}", "ar1"),
    "un_armcd_sex": ModelSpec(f"FEV1 ~ {ARM} + {SEX}", "un"),
    "un_full": ModelSpec(f"FEV1 ~ {ARM} * {VISIT} + {RACE} + {SEX}", "un", ("VIS2", "VIS3", "VIS4", "VIS1")),
    "ar1_armcd_by_baseline_type3": ModelSpec(f"FEV1 ~ {ARM} * FEV1_BL", "ar1"),
}


class ReferenceMissingError(FileNotFoundError):
    """A reference file is missing from tests/data/sas/."""


REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "sas"


def reference_dir() -> Path:
    """`tests/data/sas/`, the SAS listings and data copied into the repository."""
    for name in ("sas_fev_reference.json", "fev_data.csv", "sas_fev_kr_reference.json"):
        if not (REFERENCE_DIR / name).is_file():
            raise ReferenceMissingError(f"SAS reference file {name} not found in {REFERENCE_DIR}.")
    return REFERENCE_DIR


def load_reference() -> tuple[pd.DataFrame, dict[str, Any]]:
    path = reference_dir()
    data = pd.read_csv(path / "fev_data.csv")
    with open(path / "sas_fev_reference.json", encoding="utf-8") as fh:
        ref = json.load(fh)
    return data, ref["models"]


def sas_parms(name: str, sas: dict[str, Any]) -> dict[str, float] | None:
    """SAS's printed covariance parameters under our names, or None if SAS printed none."""
    if "covariance" in sas:
        return {k: float(v) for k, v in sas["covariance"].items()}
    if "covariance_un" in sas:
        order = MODEL_SPECS[name].sas_visit_order
        ours = sorted(order)
        out = {}
        for key, value in sas["covariance_un"].items():
            i, j = (ours.index(order[int(v) - 1]) for v in key.split(","))
            out[f"UN({max(i, j) + 1},{min(i, j) + 1})"] = float(value)
        return out
    return None


def fit_reference_model(data: pd.DataFrame, name: str, parms: dict[str, float] | None = None) -> MMRMResult:
    spec = MODEL_SPECS[name]
    return fit_mmrm(
        data,
        spec.formula,
        subject="USUBJID",
        visit="AVISIT",
        covariance=spec.covariance,
        df="satterthwaite",
        parms=parms,
        visit_order=sorted(spec.sas_visit_order),
    )


def _parts(name: str, sep: str) -> frozenset[str]:
    return frozenset(p.strip() for p in name.split(sep))


def _decimals(value: float) -> int:
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


@dataclass(frozen=True)
class Comparison:
    """One number SAS printed and ours, with the tolerance it is held to."""

    model: str
    quantity: str
    item: str
    sas: float
    ours: float
    tolerance: float

    @property
    def diff(self) -> float:
        return self.ours - self.sas

    @property
    def ok(self) -> bool:
        return abs(self.diff) <= self.tolerance


def printed_tolerance(sas_value: float, rel: float = 1e-4) -> float:
    """Half a unit in SAS's last printed digit, or `rel` relative, whichever is larger."""
    return max(0.5 * 10.0 ** (-_decimals(sas_value)), rel * abs(sas_value))


@dataclass(frozen=True)
class Tolerances:
    """How close ours must be to SAS.

    `fitted`: our own REML optimum. SAS stops when its relative-Hessian criterion
    g'H^-1g/|f| < 1e-8 holds, which leaves its covariance parameters up to ~0.005 asymptotic
    SEs from the exact optimum (our -2RLL is lower than SAS's by ~5e-6 where they differ);
    estimates then move by ~1e-3 of their SE and SEs by ~2e-4 relative, and df by a few tenths
    on top of SAS's integer rounding.
    `held`: covariance parameters held at SAS's printed values (SAS PARMS/NOITER): only printed
    rounding remains.
    """

    neg2_rel: float
    cov_param_ase: float
    est_se_fraction: float
    se_rel: float
    df_abs: float


FITTED = Tolerances(neg2_rel=1e-5, cov_param_ase=0.005, est_se_fraction=1e-3, se_rel=2e-4, df_abs=0.6)
HELD = Tolerances(neg2_rel=1e-6, cov_param_ase=0.0, est_se_fraction=0.0, se_rel=1e-4, df_abs=0.5)


def compare_model(name: str, sas: dict[str, Any], res: MMRMResult, tol: Tolerances = FITTED) -> Iterator[Comparison]:
    if "neg2_reml" in sas:
        yield Comparison(name, "-2RLL", "", sas["neg2_reml"], res.neg2_loglik, tol.neg2_rel * abs(sas["neg2_reml"]))
    ase = res.covariance_parameter_se()
    if res.optimizer.startswith("held"):
        pass  # the covariance parameters are SAS's own: nothing to compare
    elif "covariance" in sas:
        for key, value in sas["covariance"].items():
            yield Comparison(
                name,
                "covariance",
                key,
                value,
                res.covariance_parameters[key],
                max(printed_tolerance(value), tol.cov_param_ase * ase[key]),
            )
    elif "covariance_un" in sas:
        parms = sas_parms(name, sas) or {}
        sas_keys = list(sas["covariance_un"])
        for (our_key, value), key in zip(parms.items(), sas_keys, strict=True):
            yield Comparison(
                name,
                "covariance",
                f"UN({key})",
                value,
                res.covariance_parameters[our_key],
                max(printed_tolerance(value), tol.cov_param_ase * ase[our_key]),
            )
    by_sas_name = {_parts(sas_coefficient_name(term), ":"): term for term in res.coefficients.index}
    for key, value in sas.get("fixed", {}).items():
        row = res.coefficients.loc[by_sas_name[_parts(key, ":")]]
        se = float(row["se"])
        # An estimate near 0 cannot be held to 1e-4 relative: SAS's own convergence criterion
        # leaves it uncertain by ~1e-3 of its SE, so that is the floor.
        est_tol = max(printed_tolerance(value["estimate"]), tol.est_se_fraction * se)
        yield Comparison(name, "estimate", key, value["estimate"], float(row["estimate"]), est_tol)
        yield Comparison(name, "se", key, value["se"], se, printed_tolerance(value["se"], tol.se_rel))
        yield Comparison(name, "df (Satterthwaite)", key, value["df_satterthwaite"], float(row["df"]), tol.df_abs)
    if "type3" in sas:
        t3 = res.type3()
        by_effect = {_parts(e, "*"): i for i, e in enumerate(t3["sas_effect"])}
        for key, value in sas["type3"].items():
            row = t3.iloc[by_effect[_parts(key, "*")]]
            yield Comparison(name, "type3 num df", key, value["num_df"], float(row["num_df"]), 0.0)
            yield Comparison(name, "type3 den df", key, value["den_df"], float(row["den_df"]), tol.df_abs)
            yield Comparison(
                name,
                "type3 F",
                key,
                value["F"],
                float(row["F"]),
                max(printed_tolerance(value["F"], rel=1e-3), 5e-3 if _decimals(value["F"]) <= 2 else 0),
            )
    if "lsmeans" in sas:
        lsm = res.lsmeans("AVISIT*ARMCD")
        for key, value in sas["lsmeans"].items():
            visit, arm = key.split(",")
            row = lsm.loc[(visit, arm)]
            est_tol = max(printed_tolerance(value["estimate"]), tol.est_se_fraction * float(row["se"]))
            yield Comparison(name, "lsmean", key, value["estimate"], float(row["estimate"]), est_tol)
            yield Comparison(
                name,
                "lsmean se",
                key,
                value["se"],
                float(row["se"]),
                printed_tolerance(value["se"], tol.se_rel),
            )
            yield Comparison(name, "lsmean df", key, value["df"], float(row["df"]), tol.df_abs)
    for key, value in sas.get("lsmean_difference", {}).items():
        visit, arms = key.split(" ")
        active, control = arms.split("-")
        weights = res.lsmean_weights("AVISIT*ARMCD")
        l_vec = weights.loc[(visit, active)] - weights.loc[(visit, control)]
        row = res.estimate(l_vec).iloc[0]
        est_tol = max(printed_tolerance(value["estimate"]), tol.est_se_fraction * float(row["se"]))
        yield Comparison(name, "lsmean diff", key, value["estimate"], float(row["estimate"]), est_tol)
        yield Comparison(
            name,
            "lsmean diff se",
            key,
            value["se"],
            float(row["se"]),
            printed_tolerance(value["se"], tol.se_rel),
        )
        yield Comparison(name, "lsmean diff df", key, value["df"], float(row["df"]), tol.df_abs)


def all_comparisons(held: bool = False) -> list[Comparison]:
    """Every SAS number vs ours: at our optimum, or (held=True) at SAS's printed parameters
    for the models where SAS printed them."""
    data, models = load_reference()
    out: list[Comparison] = []
    for name, sas in models.items():
        if held:
            parms = sas_parms(name, sas)
            if parms is None:
                continue
            out.extend(compare_model(name, sas, fit_reference_model(data, name, parms), HELD))
        else:
            out.extend(compare_model(name, sas, fit_reference_model(data, name), FITTED))
    return out


def comparison_table(comparisons: list[Comparison]) -> str:
    lines = [
        "| model | quantity | item | SAS | ours | ours - SAS | tolerance | ok |",
        "|---|---|---|---:|---:|---:|---:|:-:|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.model} | {c.quantity} | {c.item} | {c.sas:.10g} | {c.ours:.10g} | "
            f"{c.diff:.3g} | {c.tolerance:.2g} | {'yes' if c.ok else '**NO**'} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------ Kenward-Roger
#: SAS TYPE= in sas_fev_kr_reference.json -> fit_mmrm(covariance=...).
KR_COVARIANCE: dict[str, str] = {
    "un": "un",
    "ar(1)": "ar1",
    "arh(1)": "arh1",
    "cs": "cs",
    "csh": "csh",
    "toep": "toep",
    "toeph": "toeph",
    "ante(1)": "ante1",
    "sp(exp)(VISITN VISITN2)": "sp_exp",
}
#: SP(EXP)'s coordinates: SAS's sp(exp)(VISITN VISITN2), per row.
KR_COORDINATES: dict[str, list[str]] = {"sp(exp)(VISITN VISITN2)": ["VISITN", "VISITN2"]}
KR_DDFM: dict[str, str] = {"kr": "kenward-roger", "kr(linear)": "kenward-roger-linear"}
KR_FORMULA = f"FEV1 ~ {ARM}"

#: What SAS printed besides the LS-means difference, from the same PROC MIXED runs (the listings
#: kept beside the ODS tables in openpharma/mmrm, design/ddfm_covtype/kr_*.txt): "Covariance
#: Parameter Estimates" under our parameter names, and "BIC (Smaller is Better)" (one decimal).
KR_SAS_LISTING: dict[str, dict[str, Any]] = {
    "un": {
        "bic": 3720.9,
        "parms": {
            "UN(1,1)": 108.39,
            "UN(2,1)": 45.4113,
            "UN(2,2)": 40.1721,
            "UN(3,1)": -2.6971,
            "UN(3,2)": 0.7771,
            "UN(3,3)": 24.6058,
            "UN(4,1)": -47.0103,
            "UN(4,2)": -13.0998,
            "UN(4,3)": 18.7346,
            "UN(4,4)": 152.36,
        },
    },
    "ar(1)": {"bic": 3865.7, "parms": {"rho": 0.3904, "sigma2": 84.4289}},
    "arh(1)": {
        "bic": 3741.8,
        "parms": {"var(1)": 88.7252, "var(2)": 34.6829, "var(3)": 32.6996, "var(4)": 169.66, "rho": 0.3674},
    },
    "cs": {"bic": 3901.6, "parms": {"cs_covariance": 1.1388, "residual": 81.4907}},
    "csh": {
        "bic": 3780.7,
        "parms": {"var(1)": 100.98, "var(2)": 35.2903, "var(3)": 28.6359, "var(4)": 168.89, "rho": 0.09475},
    },
    "toep": {
        "bic": 3852.0,
        "parms": {"sigma2": 83.8804, "toep_lag1": 35.9753, "toep_lag2": 1.9311, "toep_lag3": -22.3320},
    },
    "toeph": {
        "bic": 3730.4,
        "parms": {
            "var(1)": 86.1623,
            "var(2)": 34.6275,
            "var(3)": 33.9109,
            "var(4)": 168.32,
            "toeph(1)": 0.3837,
            "toeph(2)": -0.01560,
            "toeph(3)": -0.3778,
        },
    },
    "ante(1)": {
        "bic": 3719.5,
        "parms": {
            "var(1)": 110.47,
            "var(2)": 41.1742,
            "var(3)": 24.0872,
            "var(4)": 151.80,
            "rho(1)": 0.6996,
            "rho(2)": -0.01585,
            "rho(3)": 0.3180,
        },
    },
    "sp(exp)(VISITN VISITN2)": {"bic": 3882.9, "parms": {"range": 1.0898, "sigma2": 83.3648}},
}


@dataclass(frozen=True)
class KrTolerances:
    """How close our Kenward-Roger LS-means difference must be to SAS's.

    `held` (covariance parameters at SAS's printed values): the targets SE 1e-4 relative, df
    0.05, p 1e-4. `fitted` (our own REML optimum, -2RLL up to 1.3e-5 below SAS's): SAS stops
    as soon as g'H^-1g < 1e-8, which for CSH and ANTE(1) leaves its variances ~3e-4 relative
    from the optimum; SEs then differ by up to ~1.2e-4 relative and KR df by up to ~0.07.
    """

    se_rel: float
    df_abs: float
    p_abs: float
    est_se_fraction: float


KR_HELD = KrTolerances(se_rel=1e-4, df_abs=0.05, p_abs=1e-4, est_se_fraction=1e-4)
KR_FITTED = KrTolerances(se_rel=2e-4, df_abs=0.1, p_abs=1e-4, est_se_fraction=1e-3)


def load_kr_reference() -> list[dict[str, Any]]:
    with open(reference_dir() / "sas_fev_kr_reference.json", encoding="utf-8") as fh:
        fits: list[dict[str, Any]] = json.load(fh)["fits"]
    return fits


def fit_kr_reference(data: pd.DataFrame, sas_fit: dict[str, Any], held: bool = False) -> MMRMResult:
    covariance = sas_fit["covariance"]
    parms = KR_SAS_LISTING[covariance]["parms"] if held else None
    return fit_mmrm(
        data,
        KR_FORMULA,
        subject="USUBJID",
        visit="AVISIT",
        visit_order=["VIS1", "VIS2", "VIS3", "VIS4"],
        covariance=KR_COVARIANCE[covariance],
        time=KR_COORDINATES.get(covariance),
        df=KR_DDFM[sas_fit["ddfm"]],  # type: ignore[arg-type]
        parms=parms,
    )


def kr_difference(res: MMRMResult) -> pd.Series:
    """LSMEANS ARMCD / PDIFF: TRT - PBO, with the fit's df method."""
    weights = res.lsmean_weights("ARMCD")
    return res.estimate(weights.loc["TRT"] - weights.loc["PBO"]).iloc[0]


def compare_kr(sas_fit: dict[str, Any], res: MMRMResult, tol: KrTolerances) -> Iterator[Comparison]:
    name = f"{sas_fit['covariance']} {sas_fit['ddfm']}"
    row = kr_difference(res)
    se = float(row["se"])
    yield Comparison(name, "estimate", "TRT-PBO", sas_fit["estimate"], float(row["estimate"]), tol.est_se_fraction * se)
    yield Comparison(name, "se", "TRT-PBO", sas_fit["se"], se, tol.se_rel * sas_fit["se"])
    yield Comparison(name, "df", "TRT-PBO", sas_fit["df"], float(row["df"]), tol.df_abs)
    yield Comparison(name, "p", "TRT-PBO", sas_fit["p"], float(row["p"]), tol.p_abs)
    ci_tol = tol.est_se_fraction * se + 2.0 * tol.se_rel * sas_fit["se"]
    yield Comparison(name, "ci_low", "TRT-PBO", sas_fit["ci_low"], float(row["ci_low"]), ci_tol)
    yield Comparison(name, "ci_high", "TRT-PBO", sas_fit["ci_high"], float(row["ci_high"]), ci_tol)


def kr_table() -> str:
    """Markdown: every KR fit in the reference, ours vs SAS, at our optimum and held at SAS's
    printed covariance parameters."""
    data = load_reference()[0]
    lines = [
        "| SAS TYPE= | DDFM= | SAS SE | ours SE (rel. diff) | held SE (rel. diff) | SAS df | ours df (diff) "
        "| held df (diff) | SAS p | ours p (diff) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sas_fit in load_kr_reference():
        cov, ddfm = sas_fit["covariance"], sas_fit["ddfm"]
        head = f"| {cov} | {ddfm.upper()} | {sas_fit['se']:.6f} "
        if cov not in KR_COVARIANCE:
            lines.append(head + f"| not supported | | {sas_fit['df']:.2f} | | | {sas_fit['p']:.4g} | |")
            continue
        ours = kr_difference(fit_kr_reference(data, sas_fit))
        held = kr_difference(fit_kr_reference(data, sas_fit, held=True))
        lines.append(
            head
            + f"| {ours['se']:.6f} ({(ours['se'] - sas_fit['se']) / sas_fit['se']:+.1e}) "
            + f"| {held['se']:.6f} ({(held['se'] - sas_fit['se']) / sas_fit['se']:+.1e}) "
            + f"| {sas_fit['df']:.3f} | {ours['df']:.3f} ({ours['df'] - sas_fit['df']:+.3f}) "
            + f"| {held['df']:.3f} ({held['df'] - sas_fit['df']:+.3f}) "
            + f"| {sas_fit['p']:.4g} | {ours['p']:.4g} ({ours['p'] - sas_fit['p']:+.1e}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="one line per model")
    parser.add_argument("--held", action="store_true", help="hold covariance parameters at SAS's printed values")
    parser.add_argument("--kr", action="store_true", help="the Kenward-Roger table (all 18 SAS fits)")
    args = parser.parse_args(argv)
    if args.kr:
        print(kr_table())
        return 0
    comparisons = all_comparisons(held=args.held)
    if args.summary:
        frame = (
            pd.DataFrame([{"model": c.model, "ok": c.ok, "n": 1} for c in comparisons])
            .groupby("model", sort=False)
            .sum()
        )
        print(frame.to_string())
    else:
        print(comparison_table(comparisons))
    n_bad = sum(not c.ok for c in comparisons)
    print(f"\n{len(comparisons)} numbers compared, {n_bad} outside tolerance.")
    return 1 if n_bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
