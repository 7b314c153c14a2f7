"""Formula machinery: patsy designs, SAS-style names, Type 3 hypotheses and LS-mean grids.

patsy builds the design with the reference levels the user chose (``C(x, Treatment('PBO'))``).
SAS's Type 3 hypotheses and LS-means are defined on a different parametrisation of the same
column space: class effects averaged with equal weights, covariates at 0 (Type 3) or at their
means (LS-means). Both are computed here by rebuilding the design in that parametrisation and
mapping it back onto the user's coefficients.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from numpy.typing import NDArray

from analysis.stats.errors import NotEstimableError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_C_CALL = re.compile(r"^C\(\s*([^,()]+?)\s*(?:,.*)?\)$")
_T_LEVEL = re.compile(r"\[T\.(.*)\]$")


def sas_effect_name(patsy_factor_or_term: str) -> str:
    """`C(ARMCD, Treatment('PBO')):C(AVISIT)` -> `ARMCD*AVISIT` (SAS's effect spelling)."""
    parts = patsy_factor_or_term.split(":")
    out = []
    for part in parts:
        match = _C_CALL.match(part.strip())
        out.append(match.group(1) if match else part.strip())
    return "*".join(out)


def sas_coefficient_name(patsy_column: str) -> str:
    """`C(ARMCD, Treatment('PBO'))[T.TRT]` -> `ARMCD[TRT]`; interactions keep patsy's `:`."""
    out = []
    for part in _split_interaction(patsy_column):
        level = ""
        level_match = _T_LEVEL.search(part)
        if level_match:
            level = f"[{level_match.group(1)}]"
            part = part[: level_match.start()]
        elif part.endswith("]") and "[" in part:
            cut = part.rindex("[")
            level = part[cut:]
            part = part[:cut]
        out.append(sas_effect_name(part) + level)
    return ":".join(out)


def _split_interaction(name: str) -> list[str]:
    # Split on ':' that are not inside brackets or parentheses (levels may contain ':').
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in name:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def factor_variables(code: str, columns: Sequence[str]) -> list[str]:
    """Data columns a patsy factor's Python code refers to."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return [c for c in columns if c == code]
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [c for c in columns if c in names]


@dataclass(frozen=True, eq=False)
class FormulaVariables:
    """Which data columns the right-hand side uses, split into class and numeric variables."""

    categorical: tuple[str, ...]
    numeric: tuple[str, ...]


def formula_variables(design_info: patsy.DesignInfo, columns: Sequence[str]) -> FormulaVariables:
    categorical: list[str] = []
    numeric: list[str] = []
    for factor, info in design_info.factor_infos.items():
        target = categorical if info.type == "categorical" else numeric
        for var in factor_variables(factor.code, columns):
            if var not in target:
                target.append(var)
    # A variable used both ways is a class variable for grids (its levels are enumerated).
    numeric = [v for v in numeric if v not in categorical]
    return FormulaVariables(tuple(categorical), tuple(numeric))


def term_columns(design_info: patsy.DesignInfo) -> dict[str, slice]:
    """Patsy term name -> its slice of design columns (Intercept included)."""
    return {term.name(): sl for term, sl in design_info.term_slices.items()}


def type3_matrices(
    design_info: patsy.DesignInfo, data: pd.DataFrame, x: FloatArray, eval_env: patsy.EvalEnvironment
) -> dict[str, FloatArray]:
    """SAS Type 3 hypothesis matrix (rows x p, on the user's coefficients) for each term.

    The design is rebuilt with sum-to-zero coding for every class factor and raw values for
    numeric factors; in that parametrisation a term's own coefficients are exactly SAS's Type 3
    hypothesis (class effects averaged, covariates at 0). With X_user = X_sum T, the hypothesis
    on the user's coefficients is T restricted to the term's rows.
    """
    n = len(data)
    blocks: list[FloatArray] = []
    spans: dict[str, slice] = {}
    bases: dict[str, FloatArray] = {}
    start = 0
    references = _reference_levels(design_info)
    for term in design_info.terms:
        cols = np.ones((n, 1))
        basis: FloatArray = np.ones((1, 1))
        for factor in term.factors:
            info = design_info.factor_infos[factor]
            # patsy's "0 + factor": indicator columns in level order, or the numeric columns.
            raw, _ = _factor_values(factor, info, data)
            values = np.eye(len(info.categories))[raw] if info.type == "categorical" else np.asarray(raw, dtype=float)
            if info.type == "categorical":
                ref = references.get(factor, values.shape[1] - 1)
                keep = [j for j in range(values.shape[1]) if j != ref]
                values = values[:, keep] - values[:, [ref]]
                # Effect-coded coefficients are level-minus-mean; SAS's Type 3 rows are
                # level-minus-reference (I + 11' in this basis). The basis matters: the
                # multi-df Satterthwaite df is not invariant to non-orthogonal changes of L.
                k = len(keep)
                fbasis = np.eye(k) + np.ones((k, k))
            else:
                fbasis = np.eye(values.shape[1])
            cols = (cols[:, :, None] * values[:, None, :]).reshape(n, -1)
            basis = np.asarray(np.kron(basis, fbasis), dtype=float)
        blocks.append(cols)
        spans[term.name()] = slice(start, start + cols.shape[1])
        bases[term.name()] = basis
        start += cols.shape[1]
    x_sum = np.hstack(blocks)
    p = x.shape[1]
    if x_sum.shape[1] != p or np.linalg.matrix_rank(x_sum) != p:
        raise NotEstimableError(
            "Type 3 tests need a hierarchical formula (every interaction's lower-order terms "
            "present); this formula's terms do not span the same space under effect coding."
        )
    tmat, *_ = np.linalg.lstsq(x_sum, x, rcond=None)
    scale = max(1.0, float(np.max(np.abs(x))))
    if np.max(np.abs(x_sum @ tmat - x)) > 1e-8 * scale:
        raise NotEstimableError(
            "Type 3 tests need a hierarchical formula: the effect-coded design does not reproduce the model's design."
        )
    out = {}
    for name, sl in spans.items():
        if name == "Intercept":
            continue
        l_mat = np.asarray(bases[name] @ tmat[sl], dtype=float)
        # lstsq leaves ~1e-16 where the exact answer is 0; clean it so that "which effects does
        # this hypothesis involve" (between-within df) is read correctly.
        l_mat[np.abs(l_mat) < 1e-10 * np.max(np.abs(l_mat))] = 0.0
        out[name] = l_mat
    return out


def _reference_levels(design_info: patsy.DesignInfo) -> dict[Any, int]:
    """Index of each class factor's reference level (the all-zero row of its treatment
    contrast), which SAS puts last in its Type 3 rows. Factors with other codings fall back to
    the last level, SAS's default reference."""
    out: dict[Any, int] = {}
    for subterms in design_info.term_codings.values():
        for sub in subterms:
            for factor, contrast in sub.contrast_matrices.items():
                mat = np.asarray(contrast.matrix)
                zero_rows = np.flatnonzero(np.all(mat == 0.0, axis=1))
                if mat.shape[1] == mat.shape[0] - 1 and len(zero_rows) == 1:
                    out.setdefault(factor, int(zero_rows[0]))
    return out


def _levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    return sorted(series.dropna().unique().tolist())


def lsmean_weights(
    design_info: patsy.DesignInfo,
    data: pd.DataFrame,
    variables: FormulaVariables,
    specs: str | Sequence[str],
    at: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """L rows for LS-means: one per combination of the spec levels (SAS LSMEANS convention).

    Class variables not in `specs` are averaged with equal weights over their levels; numeric
    variables sit at their mean over the analysis rows unless `at` gives a value. Derived terms
    are evaluated at those values (I(x**2) at mean(x)**2, as emmeans does; SAS has no derived
    terms and would use the mean of a precomputed x2 column instead).
    """
    spec_vars = [s.strip() for s in specs.split("*")] if isinstance(specs, str) else list(specs)
    at = dict(at or {})
    for var in spec_vars:
        if var not in variables.categorical:
            raise NotEstimableError(
                f"LS-means are defined for class variables; {var!r} is not a class variable in "
                f"this formula (class variables: {list(variables.categorical)}). Use at= for "
                "numeric values."
            )
    grid_axes: dict[str, list[Any]] = {}
    for var in variables.categorical:
        if var in at and var not in spec_vars:
            grid_axes[var] = [at[var]]
        else:
            grid_axes[var] = _levels(data[var])
    rows = list(itertools.product(*grid_axes.values()))
    grid = pd.DataFrame(rows, columns=list(grid_axes))
    for var in variables.numeric:
        grid[var] = float(at[var]) if var in at else float(data[var].mean())
    for var in at:
        if var not in grid.columns:
            raise NotEstimableError(f"at= names {var!r}, which the formula does not use.")
    xg = patsy.build_design_matrices([design_info], grid, return_type="dataframe")[0]
    xg.index = (
        pd.MultiIndex.from_frame(grid[spec_vars])
        if len(spec_vars) > 1
        else pd.Index(grid[spec_vars[0]], name=spec_vars[0])
    )
    weights = xg.groupby(level=list(range(len(spec_vars))), sort=False).mean()
    return weights


# ------------------------------------------------------------------------- design building
IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class Design:
    """y and X for the complete rows of a frame.

    `kept`: positions (in the frame) of the rows used. When the right-hand side is built from
    its distinct rows, `x_unique` holds them and `row_codes` says which one each used row is
    (x == x_unique[row_codes]); both are None when the general patsy path was taken.
    """

    y: FloatArray
    x: FloatArray
    column_names: list[str]
    design_info: patsy.DesignInfo
    kept: IntArray
    x_unique: FloatArray | None
    row_codes: IntArray | None


def _simple_factor_column(code: str, columns: Sequence[str]) -> str | None:
    """The data column a factor is, if it is a bare column name or C(column, ...)."""
    if code in columns:
        return code
    match = _C_CALL.match(code)
    if match and match.group(1) in columns:
        return match.group(1)
    return None


def _categorical_columns(desc: patsy.ModelDesc, frame: pd.DataFrame) -> list[str]:
    """Columns that patsy treats as categorical wherever the formula uses them, and that can be
    handed to it as pandas Categoricals without changing the design: used bare with a
    text/bool dtype, or as C(column, ...) without levels=. A column also used inside any other
    expression (np.log(x), I(x**2), center(x)) is left alone."""
    columns = list(frame.columns)
    safe: set[str] = set()
    unsafe: set[str] = set()
    for term in desc.rhs_termlist:
        for factor in term.factors:
            code = factor.code
            if code in columns:
                dtype = frame[code].dtype
                text_like = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
                (safe if text_like or pd.api.types.is_bool_dtype(dtype) else unsafe).add(code)
                continue
            match = _C_CALL.match(code)
            if match and match.group(1) in columns and "levels" not in code:
                safe.add(match.group(1))
                continue
            unsafe.update(factor_variables(code, columns))
    return [c for c in columns if c in safe and c not in unsafe and not isinstance(frame[c].dtype, pd.CategoricalDtype)]


def _factor_values(factor: Any, info: Any, frame: pd.DataFrame) -> tuple[FloatArray | NDArray[np.intp], BoolArray]:
    """One factor on every row: level codes (categorical) or an (n, k) float array, and the
    rows where it is missing."""
    value = factor.eval(info.state, frame)
    if info.type == "categorical":
        if type(value).__name__ == "_CategoricalBox":  # what C(x, ...) returns
            value = value.data
        codes = np.asarray(pd.Categorical(value, categories=list(info.categories)).codes, dtype=np.intp)
        return codes, codes < 0
    values = np.asarray(value, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    return values, np.any(np.isnan(values), axis=1)


def _build_by_columns(desc: patsy.ModelDesc, frame: pd.DataFrame, eval_env: patsy.EvalEnvironment) -> Design:
    """patsy's design, with patsy doing only what is per-column: it sniffs the levels and
    remembers stateful transforms (design_matrix_builders); the rows are filled here with
    vectorised level codes. patsy's own build_design_matrices converts categorical data cell by
    cell in Python (also for pandas Categoricals inside C(), in patsy 1.0). Column order and
    values follow patsy's (left-most factor varying fastest within a subterm); the tests compare
    with patsy.dmatrices."""
    y_info, x_info = patsy.design_matrix_builders(
        [desc.lhs_termlist, desc.rhs_termlist], lambda: iter([frame]), eval_env, NA_action="drop"
    )
    if len(y_info.column_names) != 1 or any(i.type != "numerical" for i in y_info.factor_infos.values()):
        raise patsy.PatsyError(f"the formula {desc.describe()!r} must have exactly one numeric outcome")
    n = len(frame)
    missing = np.zeros(n, dtype=bool)
    values: dict[Any, Any] = {}
    for factor, info in [*y_info.factor_infos.items(), *x_info.factor_infos.items()]:
        values[factor], na = _factor_values(factor, info, frame)
        missing |= na
    (y_factor,) = y_info.factor_infos
    kept = np.flatnonzero(~missing).astype(np.intp)
    x = np.ones((len(kept), len(x_info.column_names)))
    for term, subterms in x_info.term_codings.items():
        col = x_info.term_slices[term].start
        for sub in subterms:
            widths = [
                sub.contrast_matrices[f].matrix.shape[1]
                if f in sub.contrast_matrices
                else x_info.factor_infos[f].num_columns
                for f in sub.factors
            ]
            # patsy's order: the left-most factor iterates fastest.
            for combo in itertools.product(*[range(w) for w in reversed(widths)]):
                for factor, j in zip(sub.factors, combo[::-1], strict=True):
                    if factor in sub.contrast_matrices:
                        x[:, col] *= sub.contrast_matrices[factor].matrix[values[factor][kept], j]
                    else:
                        x[:, col] *= values[factor][kept, j]
                col += 1
    return Design(
        y=np.asarray(values[y_factor][kept, 0], dtype=float),
        x=x,
        column_names=list(x_info.column_names),
        design_info=x_info,
        kept=kept,
        x_unique=None,
        row_codes=None,
    )


def _combination_codes(frame: pd.DataFrame, used: list[str]) -> NDArray[np.intp]:
    """0-based code of each row's combination of values in `used` (missing values are values),
    from one factorize per column instead of a multi-column groupby."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for col in used:
        series = frame[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            col_codes = np.asarray(series.cat.codes, dtype=np.int64) + 1  # -1 (missing) -> 0
            n_values = len(series.cat.categories) + 1
        else:
            col_codes = pd.factorize(series, use_na_sentinel=False)[0].astype(np.int64)
            n_values = int(col_codes.max(initial=-1)) + 1
        # codes < n_rows after each factorize, so the product stays far below 2**63.
        codes = pd.factorize(codes * n_values + col_codes)[0].astype(np.int64)
    return np.asarray(codes, dtype=np.intp)


def build_design(formula: str, frame: pd.DataFrame, eval_env: patsy.EvalEnvironment) -> Design:
    """patsy's dmatrices(formula, frame, NA_action="drop"), without patsy's per-cell work.

    patsy checks every cell of a non-Categorical categorical column for NA and level membership
    in Python, which was most of the fit time for 100,000 subjects. Two shortcuts, each giving
    patsy's design exactly:
    - class columns are handed to patsy as pandas Categoricals (with the levels patsy would
      infer: the sorted distinct values), which it converts with their integer codes;
    - when every right-hand-side factor is a column or C(column, ...) (no functions, hence no
      stateful transforms such as center()) and the columns take few distinct combinations, a
      design row depends only on those values: patsy builds the design of the distinct
      combinations only (the same levels, since every level occurs among them), and the rows
      are gathered from it.
    """
    columns = list(frame.columns)
    desc = patsy.ModelDesc.from_formula(formula)
    to_convert = _categorical_columns(desc, frame)
    if to_convert:
        frame = frame.assign(**{c: pd.Categorical(frame[c]) for c in to_convert})
    rhs_codes = [f.code for term in desc.rhs_termlist for f in term.factors]
    rhs_columns = [_simple_factor_column(code, columns) for code in rhs_codes]
    lhs = [f.code for term in desc.lhs_termlist for f in term.factors]
    fast = all(c is not None for c in rhs_columns) and len(lhs) == 1 and lhs[0] in columns
    fast = fast and pd.api.types.is_numeric_dtype(frame[lhs[0]].dtype) if fast else False
    used = list(dict.fromkeys(c for c in rhs_columns if c is not None))
    n = len(frame)
    group_codes = np.zeros(n, dtype=np.intp)
    if fast and used:
        group_codes = _combination_codes(frame, used)
        # Distinct rows only pay when they are few (a continuous covariate makes them ~all).
        fast = int(group_codes.max(initial=-1)) + 1 <= max(n // 4, 1)
    if not fast:
        return _build_by_columns(desc, frame, eval_env)
    # First row of each combination (hash-based; np.unique would sort all rows).
    firsts = pd.Series(group_codes).drop_duplicates()
    first = firsts.index.to_numpy()[np.argsort(firsts.to_numpy())]
    distinct = frame.iloc[first].reset_index(drop=True)
    x_df = patsy.dmatrix(
        patsy.ModelDesc([], desc.rhs_termlist), distinct, eval_env=eval_env, NA_action="drop", return_type="dataframe"
    )
    # Distinct rows patsy dropped (a missing covariate) map to -1.
    remap = np.full(len(first), -1, dtype=np.intp)
    remap[x_df.index.to_numpy()] = np.arange(len(x_df), dtype=np.intp)
    codes = remap[group_codes]
    y_all = pd.to_numeric(frame[lhs[0]], errors="coerce").to_numpy(dtype=float)
    ok = (codes >= 0) & np.isfinite(y_all)
    kept = np.flatnonzero(ok).astype(np.intp)
    x_unique = x_df.to_numpy(dtype=float)
    row_codes = codes[kept]
    return Design(
        y=y_all[kept],
        x=x_unique[row_codes],
        column_names=list(x_df.columns),
        design_info=x_df.design_info,
        kept=kept,
        x_unique=x_unique,
        row_codes=row_codes,
    )
