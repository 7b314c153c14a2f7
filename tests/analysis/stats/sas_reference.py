"""Ours-vs-SAS comparison on the external reference (fev_data.csv, SAS PROC MIXED listings).

    python -m tests.analysis.stats.sas_reference            # markdown table of every compared number
    python -m tests.analysis.stats.sas_reference --summary  # one line per model

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="one line per model")
    parser.add_argument("--held", action="store_true", help="hold covariance parameters at SAS's printed values")
    args = parser.parse_args(argv)
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
