"""The protocol file, parsed and checked. Plain Python: no Django, so it is usable anywhere.

`parse_protocol` returns a frozen `ProtocolConfig` or raises `ProtocolError` listing every problem
found, each naming the place in the file, so a statistician can fix a file in one pass.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


class ProtocolError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Arm:
    code: str
    label: str
    active: bool
    dose_mg_per_kg: float
    vial_mg: int
    vial_reconstitution_ml: float
    preparation: str


@dataclass(frozen=True)
class Level:
    code: str
    label: str


@dataclass(frozen=True)
class StratificationFactor:
    code: str
    label: str
    source: str
    kind: str  # "threshold" | "category"
    levels: tuple[Level, ...]
    cut: float | None = None

    def level_for(self, value: Any) -> str:
        if self.kind == "threshold":
            if value is None:
                raise ValueError(f"{self.label} is missing")
            assert self.cut is not None
            return self.levels[1].code if float(value) >= self.cut else self.levels[0].code
        codes = [lv.code for lv in self.levels]
        if value not in codes:
            raise ValueError(f"{self.label} {value!r} is not one of {codes}")
        return str(value)


@dataclass(frozen=True)
class VisitDef:
    code: str
    name: str
    week: int
    window_before_days: int
    window_after_days: int
    forms: tuple[str, ...]
    infusion: bool


@dataclass(frozen=True)
class HamdItem:
    number: int
    name: str
    max: int


@dataclass(frozen=True)
class Analyte:
    code: str
    label: str
    unit: str
    min: float
    max: float
    duplicates: bool
    reveals_arm_post_baseline: bool


@dataclass(frozen=True)
class Criterion:
    code: str
    text: str
    computed: bool


@dataclass(frozen=True)
class ScaleRange:
    name: str
    min: float
    max: float


@dataclass(frozen=True)
class MeasureRange:
    """The plausible range of a measure typed at a visit or at screening: it catches typing errors."""

    code: str
    label: str
    unit: str
    min: float
    max: float


# Every record that holds one of these measures checks it against the protocol file's range.
MEASURES = (
    "age_years",
    "weight_kg",
    "height_cm",
    "systolic_mmhg",
    "diastolic_mmhg",
    "heart_rate_bpm",
    "temperature_c",
    "episode_duration_months",
    "conmed_dose",
    "vials",
    "infusion_delay_days",
)


# The multiplicity procedures the analysis implements (analysis.stats.multiarm).
MULTIPLICITY = ("none", "bonferroni", "holm", "hochberg")

# The criteria computed from screening measures, each with the [eligibility] limits it reads. The
# codes are the screening record's fields; the limits (and so the texts) are each trial's own.
COMPUTED_CRITERIA: dict[str, tuple[str, ...]] = {
    "age_25_60": ("age_min", "age_max"),
    "mgh_s_ge_2": ("mgh_s_min",),
    "qids_sr_ge_14": ("qids_sr_min",),
    "active_suicidal_ideation": ("hamd_item3_max",),
    "mmse_lt_28": ("mmse_min",),
    # An enrichment design enrols only above a screening hs-CRP (optional: the reference trial has none).
    "screening_crp_enriched": ("screening_crp_above",),
}


@dataclass(frozen=True)
class EditChecks:
    """[edit_checks]: the data-validation plan's thresholds for automatic queries. They raise a
    question, never refuse an entry; a trial with other doses or another population sets its own."""

    hamd_jump_points: int = 15
    crp_high_mg_l: float = 100.0
    weight_change_fraction: float = 0.10


# [[soft_checks]]: the checks the protocol file may configure, each with the kinds it can be and the
# parameters it needs. A warning is shown on the form (the user may still save), a query is raised on
# the saved value (trial.queries), a refusal refuses the entry and keeps what was typed.
SOFT_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "blood_draw_time": (("warning", "query"), ("earliest", "latest")),
    "elisa_cv": (("warning", "query"), ("max_cv_percent",)),
    "infusion_duration": (("warning", "query"), ("min_minutes",)),
    "missed_before_window": (("refusal", "warning"), ()),
    "visit_skips_unfinished": (("warning", "query"), ()),
}
SOFT_CHECK_KINDS = ("warning", "query", "refusal")


@dataclass(frozen=True)
class SoftCheck:
    """One [[soft_checks]] entry: what the check is (`definition`, shown on the Edit checks page) and
    what the user or the query reads (`message`, in the protocol's words; `{placeholders}` are filled
    with the values found)."""

    code: str
    kind: str
    definition: str
    message: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def say(self, **values: Any) -> str:
        return self.message.format_map(_Blank(values))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


@dataclass(frozen=True)
class AnalysisPlan:
    """[analysis]: which arms the SAP compares, and how it controls the family-wise error rate.

    Each contrast is one active arm against `control_arm`. With one contrast, no adjustment is needed;
    with several, the protocol file must name the procedure (ICH E9 5.6: multiplicity is pre-specified).
    """

    control_arm: str
    contrasts: tuple[str, ...]
    multiplicity: str = "none"
    alpha: float = 0.05


@dataclass(frozen=True)
class ProtocolConfig:
    code: str
    title: str
    registration: str
    target_enrollment: int
    weeks: int
    baseline_max_days_after_screening: int
    consent_version: str
    sites: tuple[Level, ...]
    arms: tuple[Arm, ...]
    allocation_ratio: tuple[int, ...]
    block_sizes: tuple[int, ...]
    stratify_by_site: bool
    stratification: tuple[StratificationFactor, ...]
    visits: tuple[VisitDef, ...]
    hamd_items: tuple[HamdItem, ...]
    scales: dict[str, ScaleRange]
    labs: tuple[Analyte, ...]
    inclusion: tuple[Criterion, ...]
    exclusion: tuple[Criterion, ...]
    eligibility_limits: dict[str, float]
    prohibited_med_classes: tuple[str, ...]
    aspirin_allowed_mg: float
    end_of_study_reasons: tuple[str, ...]
    sha256: str = field(default="", compare=False)
    measures: dict[str, MeasureRange] = field(default_factory=dict)
    # [blinding] (Design: Blinding). Roles that see no adverse event: some AE terms occur on one arm
    # only (urinary leukocyte esterase, 0/30 vs 10/30), so a rater who read them would guess the arm.
    adverse_events_hidden_from: tuple[str, ...] = ("rater",)
    # Immediate (unapproved) code breaks per requester per period; each is reviewed afterwards.
    immediate_code_breaks_per_user: int = 1
    immediate_code_break_period_days: int = 30
    # [dates] and [safety]: plausible dates, and when safety data are collected.
    earliest_date: date = date(2007, 1, 1)
    lot_shelf_life_max_days: int = 1830
    safety_followup_days: int = 30
    # Design, Blinding: who learns the arms once the whole trial is complete (database locked and
    # formally unblinded): [unblinding] roles_that_see_arms. Role names as in trial.core.roles; the
    # roles unblinded throughout are not listed.
    unblinded_after_unblinding: tuple[str, ...] = ()
    analysis: AnalysisPlan = AnalysisPlan("PBO", ("IFX",))
    edit_checks: EditChecks = EditChecks()
    soft_checks: tuple[SoftCheck, ...] = ()
    # [missed_visits] reasons: the coded reasons a visit is missed (free text beside each).
    missed_visit_reasons: tuple[Choice, ...] = (Choice("other", "Other"),)

    def soft_check(self, code: str) -> SoftCheck | None:
        return next((c for c in self.soft_checks if c.code == code), None)

    # [pharmacy]: a prepared (diluted) infusion bag is used within this many hours of its preparation;
    # the kit label prints the use-by time.
    infusion_use_by_hours: int = 3

    @property
    def active_arms(self) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if a.active)

    @property
    def dose_matched_arm(self) -> Arm:
        """The active arm with the highest dose: every bag is made up to its volume, so that neither
        the drug nor the dose can be told from the bag (Design: placebo matched; blinded dispensing)."""
        return max(self.active_arms, key=lambda a: (a.dose_mg_per_kg, a.code))

    def arm(self, code: str) -> Arm:
        return next(a for a in self.arms if a.code == code)

    def analyte(self, code: str) -> Analyte:
        return next(a for a in self.labs if a.code == code)

    def measure(self, code: str) -> MeasureRange:
        return self.measures[code]

    def visit(self, code: str) -> VisitDef:
        return next(v for v in self.visits if v.code == code)

    @property
    def infusion_weeks(self) -> tuple[int, ...]:
        return tuple(v.week for v in self.visits if v.infusion)

    def strata(self, site_codes: tuple[str, ...] = ()) -> list[str]:
        """Every stratum code, e.g. 'CRP>=2|F'; with site stratification the site code comes first."""
        combos: list[list[str]] = [[]]
        factors = [f.levels for f in self.stratification]
        if self.stratify_by_site:
            factors = [tuple(Level(s, s) for s in site_codes or tuple(x.code for x in self.sites)), *factors]
        for levels in factors:
            combos = [[*c, lv.code] for c in combos for lv in levels]
        return ["|".join(c) for c in combos]


def _req(d: dict[str, Any], key: str, where: str, problems: list[str], kind: type | tuple[type, ...]) -> Any:
    if key not in d:
        problems.append(f"{where}: '{key}' is missing")
        return None
    value = d[key]
    if not isinstance(value, kind) or (
        isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    ):
        problems.append(f"{where}: '{key}' must be {getattr(kind, '__name__', kind)}, not {value!r}")
        return None
    return value


def parse_protocol(text: str) -> ProtocolConfig:
    problems: list[str] = []
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError([f"not valid TOML: {exc}"]) from exc

    t = raw.get("trial", {})
    num = (int, float)
    code = _req(t, "code", "[trial]", problems, str)
    title = _req(t, "title", "[trial]", problems, str)
    target = _req(t, "target_enrollment", "[trial]", problems, int)
    weeks = _req(t, "weeks", "[trial]", problems, int)
    max_days = _req(t, "baseline_max_days_after_screening", "[trial]", problems, int)
    if isinstance(target, int) and target <= 0:
        problems.append("[trial]: target_enrollment must be positive")

    sites = tuple(Level(str(s.get("code", "")), str(s.get("name", ""))) for s in raw.get("sites", []))
    if not sites:
        problems.append("[[sites]]: at least one site is required")
    if len({s.code for s in sites}) != len(sites):
        problems.append("[[sites]]: site codes must be unique")

    arms: list[Arm] = []
    for i, a in enumerate(raw.get("arms", [])):
        where = f"[[arms]] #{i + 1}"
        dose = _req(a, "dose_mg_per_kg", where, problems, num)
        vial = _req(a, "vial_mg", where, problems, int)
        if isinstance(dose, num) and dose < 0:
            problems.append(f"{where}: dose_mg_per_kg must be >= 0")
        if isinstance(vial, int) and vial <= 0:
            problems.append(f"{where}: vial_mg must be positive")
        arms.append(
            Arm(
                code=str(_req(a, "code", where, problems, str)),
                label=str(_req(a, "label", where, problems, str)),
                active=bool(a.get("active", False)),
                dose_mg_per_kg=float(dose or 0),
                vial_mg=int(vial or 1),
                vial_reconstitution_ml=float(a.get("vial_reconstitution_ml", 10)),
                preparation=str(a.get("preparation", "")),
            )
        )
    if len(arms) < 2:
        problems.append("[[arms]]: a randomized trial needs at least two arms")
    if len({a.code for a in arms}) != len(arms):
        problems.append("[[arms]]: arm codes must be unique")
    if arms and not any(a.active for a in arms):
        problems.append("[[arms]]: at least one arm must be active")

    r = raw.get("randomization", {})
    ratio = tuple(r.get("allocation_ratio", [1] * len(arms)))
    blocks = tuple(r.get("block_sizes", []))
    if len(ratio) != len(arms):
        problems.append(f"[randomization]: allocation_ratio has {len(ratio)} entries for {len(arms)} arms")
    if not blocks:
        problems.append("[randomization]: block_sizes is empty")
    unit = sum(ratio) if ratio and all(isinstance(x, int) and x > 0 for x in ratio) else 0
    if not unit:
        problems.append("[randomization]: allocation_ratio must be positive whole numbers")
    for b in blocks:
        if not isinstance(b, int) or b <= 0 or (unit and b % unit):
            problems.append(
                f"[randomization]: block size {b!r} is not a multiple of the allocation ratio total ({unit}),"
                " so blocks could not be balanced"
            )

    factors: list[StratificationFactor] = []
    for i, s in enumerate(raw.get("stratification", [])):
        where = f"[[stratification]] #{i + 1}"
        kind = s.get("kind")
        levels = tuple(Level(str(lv["code"]), str(lv.get("label", lv["code"]))) for lv in s.get("levels", []))
        if kind not in ("threshold", "category"):
            problems.append(f"{where}: kind must be 'threshold' or 'category', not {kind!r}")
        if kind == "threshold" and (len(levels) != 2 or not isinstance(s.get("cut"), num)):
            problems.append(
                f"{where}: a threshold factor needs a numeric 'cut' and exactly two levels (below, at or above)"
            )
        if len(levels) < 2:
            problems.append(f"{where}: a stratification factor needs at least two levels")
        factors.append(
            StratificationFactor(
                code=str(s.get("code", "")),
                label=str(s.get("label", s.get("code", ""))),
                source=str(s.get("source", "")),
                kind=str(kind),
                levels=levels,
                cut=float(s["cut"]) if isinstance(s.get("cut"), num) else None,
            )
        )

    visits: list[VisitDef] = []
    for i, v in enumerate(raw.get("visits", [])):
        where = f"[[visits]] #{i + 1} ({v.get('code', '?')})"
        before = _req(v, "window_before_days", where, problems, int)
        after = _req(v, "window_after_days", where, problems, int)
        week = _req(v, "week", where, problems, int)
        if (isinstance(before, int) and before < 0) or (isinstance(after, int) and after < 0):
            problems.append(f"{where}: window days must be >= 0")
        visits.append(
            VisitDef(
                code=str(_req(v, "code", where, problems, str)),
                name=str(v.get("name", v.get("code", ""))),
                week=int(week if isinstance(week, int) else 0),
                window_before_days=int(before or 0),
                window_after_days=int(after or 0),
                forms=tuple(v.get("forms", [])),
                infusion=bool(v.get("infusion", False)),
            )
        )
    codes = [v.code for v in visits]
    if len(set(codes)) != len(codes):
        problems.append("[[visits]]: visit codes must be unique")
    on_study = [v for v in visits if v.week >= 0]
    if not any(v.week == 0 for v in visits):
        problems.append("[[visits]]: there must be a baseline visit at week 0")
    if [v.week for v in on_study] != sorted({v.week for v in on_study}):
        problems.append("[[visits]]: visit weeks must be in increasing order without repeats")
    if isinstance(weeks, int) and on_study and max(v.week for v in on_study) != weeks:
        problems.append(
            f"[[visits]]: the last visit is at week {max(v.week for v in on_study)}, but [trial] weeks = {weeks}"
        )
    known_forms = {"screening", "consent", "hamd17", "cgis", "labs", "vitals", "infusion", "end_of_study"}
    for v in visits:
        for f in v.forms:
            if f not in known_forms:
                problems.append(f"[[visits]] {v.code}: unknown form {f!r} (known: {sorted(known_forms)})")
        if v.infusion and "infusion" not in v.forms:
            problems.append(f"[[visits]] {v.code}: infusion = true but the 'infusion' form is not listed")

    inst = raw.get("instruments", {})
    hamd_items = tuple(
        HamdItem(int(it["number"]), str(it["name"]), int(it["max"])) for it in inst.get("hamd17", {}).get("items", [])
    )
    if [it.number for it in hamd_items] != list(range(1, 18)):
        problems.append("[instruments.hamd17]: items must be numbered 1 to 17 in order")
    scales: dict[str, ScaleRange] = {}
    for key in ("cgis", "qids_sr", "mmse", "mgh_s"):
        s = inst.get(key)
        if not s:
            problems.append(f"[instruments.{key}] is missing")
            continue
        if not s.get("min", 0) < s.get("max", 0):
            problems.append(f"[instruments.{key}]: min must be below max")
        scales[key] = ScaleRange(str(s.get("name", key)), float(s.get("min", 0)), float(s.get("max", 0)))

    labs = tuple(
        Analyte(
            code=str(lb["code"]),
            label=str(lb.get("label", lb["code"])),
            unit=str(lb.get("unit", "")),
            min=float(lb.get("min", 0)),
            max=float(lb.get("max", 0)),
            duplicates=bool(lb.get("duplicates", False)),
            reveals_arm_post_baseline=bool(lb.get("reveals_arm_post_baseline", False)),
        )
        for lb in raw.get("labs", [])
    )
    for lb in labs:
        if lb.min >= lb.max:
            problems.append(f"[[labs]] {lb.code}: min must be below max")
    if len({lb.code for lb in labs}) != len(labs):
        problems.append("[[labs]]: analyte codes must be unique")

    el = raw.get("eligibility", {})
    inclusion = tuple(
        Criterion(str(c["code"]), str(c["text"]), bool(c.get("computed", False))) for c in el.get("inclusion", [])
    )
    exclusion = tuple(
        Criterion(str(c["code"]), str(c["text"]), bool(c.get("computed", False))) for c in el.get("exclusion", [])
    )
    limits: dict[str, float] = {}
    for key in ("age_min", "age_max", "qids_sr_min", "mgh_s_min", "hamd_item3_max", "mmse_min"):
        value = _req(el, key, "[eligibility]", problems, num)
        if value is not None:
            limits[key] = float(value)
    if "screening_crp_above" in el:
        value = _req(el, "screening_crp_above", "[eligibility]", problems, num)
        if value is not None:
            limits["screening_crp_above"] = float(value)
    if limits.get("age_min", 0) > limits.get("age_max", 999):
        problems.append("[eligibility]: age_min is above age_max")
    if not inclusion or not exclusion:
        problems.append("[eligibility]: inclusion and exclusion criteria are required")
    all_codes = [c.code for c in inclusion + exclusion]
    for c in inclusion + exclusion:
        if c.computed and c.code not in COMPUTED_CRITERIA:
            problems.append(
                f"[eligibility]: {c.code!r} is marked computed, but only {sorted(COMPUTED_CRITERIA)} can be computed"
            )
        elif c.computed and (absent := [k for k in COMPUTED_CRITERIA[c.code] if k not in limits]):
            problems.append(f"[eligibility]: {c.code!r} is computed from {', '.join(absent)}, which is missing")
    if len(set(all_codes)) != len(all_codes):
        problems.append("[eligibility]: criterion codes must be unique")

    measures: dict[str, MeasureRange] = {}
    for key in MEASURES:
        m = raw.get("measures", {}).get(key)
        where = f"[measures.{key}]"
        if not m:
            problems.append(f"{where} is missing")
            continue
        lo, hi = _req(m, "min", where, problems, num), _req(m, "max", where, problems, num)
        if isinstance(lo, num) and isinstance(hi, num) and not lo < hi:
            problems.append(f"{where}: min must be below max")
        measures[key] = MeasureRange(
            key, str(m.get("label", key)), str(m.get("unit", "")), float(lo or 0), float(hi or 0)
        )

    dates = raw.get("dates", {})
    earliest = _req(dates, "earliest", "[dates]", problems, date)
    shelf_life = _req(dates, "lot_shelf_life_max_days", "[dates]", problems, int)
    if isinstance(shelf_life, int) and shelf_life <= 0:
        problems.append("[dates]: lot_shelf_life_max_days must be positive")
    pharmacy = raw.get("pharmacy", {})
    use_by_hours = _req(pharmacy, "infusion_use_by_hours", "[pharmacy]", problems, int)
    if isinstance(use_by_hours, int) and not 0 < use_by_hours <= 24:
        problems.append("[pharmacy]: infusion_use_by_hours must be between 1 and 24")
    safety = raw.get("safety", {})
    if safety.get("collection_starts") != "consent":
        problems.append("[safety]: collection_starts must be 'consent' (the only rule Stratum implements)")
    followup = _req(safety, "followup_days_after_end", "[safety]", problems, int)
    if isinstance(followup, int) and followup < 0:
        problems.append("[safety]: followup_days_after_end must be >= 0")

    cm = raw.get("concomitant_medications", {})
    eos = tuple(raw.get("end_of_study", {}).get("reasons", []))
    if "completed" not in eos:
        problems.append("[end_of_study]: reasons must include 'completed'")

    bl = raw.get("blinding", {})
    # Role names are checked against the roles at start-up (trial.accounts.checks): this parser
    # imports nothing of Django, so the synthetic-data generator can use it alone.
    hidden_from = tuple(str(x) for x in bl.get("adverse_events_hidden_from", ["rater"]))
    per_user = bl.get("immediate_code_breaks_per_user", 1)
    period = bl.get("immediate_code_break_period_days", 30)
    if not isinstance(per_user, int) or per_user < 0:
        problems.append("[blinding]: immediate_code_breaks_per_user must be a whole number >= 0")
    if not isinstance(period, int) or period < 1:
        problems.append("[blinding]: immediate_code_break_period_days must be a whole number >= 1")

    plan = _analysis_plan(raw.get("analysis", {}), arms, problems)
    ec = raw.get("edit_checks", {})
    edit_checks = EditChecks(
        hamd_jump_points=ec.get("hamd_jump_points", EditChecks.hamd_jump_points),
        crp_high_mg_l=float(ec.get("crp_high_mg_l", EditChecks.crp_high_mg_l)),
        weight_change_fraction=float(ec.get("weight_change_fraction", EditChecks.weight_change_fraction)),
    )
    if not isinstance(edit_checks.hamd_jump_points, int) or edit_checks.hamd_jump_points < 1:
        problems.append("[edit_checks]: hamd_jump_points must be a whole number >= 1")
    if edit_checks.crp_high_mg_l <= 0 or not 0 < edit_checks.weight_change_fraction < 1:
        problems.append("[edit_checks]: crp_high_mg_l must be positive and weight_change_fraction between 0 and 1")

    soft_checks = _soft_checks(raw.get("soft_checks", []), problems)
    missed_reasons = _missed_visit_reasons(raw.get("missed_visits", {}), problems)

    if problems:
        raise ProtocolError(problems)
    return ProtocolConfig(
        code=str(code),
        title=str(title),
        registration=str(t.get("registration", "")),
        target_enrollment=int(target),
        weeks=int(weeks),
        baseline_max_days_after_screening=int(max_days),
        consent_version=str(t.get("consent_version", "v1")),
        sites=sites,
        arms=tuple(arms),
        allocation_ratio=ratio,
        block_sizes=blocks,
        stratify_by_site=bool(r.get("stratify_by_site", False)),
        stratification=tuple(factors),
        visits=tuple(visits),
        hamd_items=hamd_items,
        scales=scales,
        labs=labs,
        inclusion=inclusion,
        exclusion=exclusion,
        eligibility_limits=limits,
        prohibited_med_classes=tuple(cm.get("prohibited_classes", [])),
        aspirin_allowed_mg=float(cm.get("aspirin_allowed_mg", 0)),
        end_of_study_reasons=eos,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        measures=measures,
        adverse_events_hidden_from=hidden_from,
        immediate_code_breaks_per_user=int(per_user),
        immediate_code_break_period_days=int(period),
        earliest_date=earliest,
        lot_shelf_life_max_days=int(shelf_life),
        safety_followup_days=int(followup),
        unblinded_after_unblinding=tuple(str(r) for r in raw.get("unblinding", {}).get("roles_that_see_arms", [])),
        analysis=plan,
        edit_checks=edit_checks,
        soft_checks=soft_checks,
        missed_visit_reasons=missed_reasons,
        infusion_use_by_hours=int(use_by_hours or 0),
    )


def _soft_checks(entries: list[dict[str, Any]], problems: list[str]) -> tuple[SoftCheck, ...]:
    checks: list[SoftCheck] = []
    for i, c in enumerate(entries):
        code = str(c.get("code", ""))
        where = f"[[soft_checks]] #{i + 1} ({code or '?'})"
        if code not in SOFT_CHECKS:
            problems.append(f"{where}: unknown check {code!r} (known: {sorted(SOFT_CHECKS)})")
            continue
        kinds, params = SOFT_CHECKS[code]
        kind = c.get("kind")
        if kind not in kinds:
            problems.append(f"{where}: kind must be one of {list(kinds)}, not {kind!r}")
        for key in ("definition", "message"):
            if not isinstance(c.get(key), str) or not c[key].strip():
                problems.append(f"{where}: '{key}' is missing")
        for key in params:
            if key not in c:
                problems.append(f"{where}: '{key}' is missing")
        if code == "blood_draw_time":
            for key in ("earliest", "latest"):
                if key in c and not _is_clock(c[key]):
                    problems.append(f"{where}: '{key}' must be a time of day like \"08:00\", not {c[key]!r}")
        for key in ("max_cv_percent", "min_minutes"):
            if key in c and (not isinstance(c[key], int | float) or isinstance(c[key], bool) or c[key] <= 0):
                problems.append(f"{where}: '{key}' must be a positive number")
        checks.append(
            SoftCheck(
                code=code,
                kind=str(kind),
                definition=str(c.get("definition", "")).strip(),
                message=str(c.get("message", "")).strip(),
                params={k: c[k] for k in params if k in c},
            )
        )
    if len({c.code for c in checks}) != len(checks):
        problems.append("[[soft_checks]]: each check is listed once")
    return tuple(checks)


def _is_clock(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return False
    hh, mm = value[:2], value[3:]
    return hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60


def _missed_visit_reasons(section: dict[str, Any], problems: list[str]) -> tuple[Choice, ...]:
    reasons = tuple(
        Choice(str(r.get("code", "")), str(r.get("label", r.get("code", "")))) for r in section.get("reasons", [])
    )
    if not reasons:
        problems.append("[missed_visits]: reasons is missing (a list of { code, label })")
        return (Choice("other", "Other"),)
    codes = [r.code for r in reasons]
    if "other" not in codes:
        problems.append("[missed_visits]: reasons must include 'other' (the code of visits missed before codes)")
    if len(set(codes)) != len(codes) or any(not c for c in codes):
        problems.append("[missed_visits]: reason codes must be unique and not empty")
    if any(len(c) > 40 for c in codes):
        problems.append("[missed_visits]: a reason code is at most 40 characters")
    return reasons


def _analysis_plan(a: dict[str, Any], arms: list[Arm], problems: list[str]) -> AnalysisPlan:
    """[analysis], with the defaults a two-arm trial needs no section for: its one inactive arm is the
    control and its one active arm the one contrast."""
    codes = {arm.code: arm for arm in arms}
    inactive = [arm.code for arm in arms if not arm.active]
    control = a.get("control_arm", inactive[0] if len(inactive) == 1 else "")
    if control not in codes:
        problems.append(f"[analysis]: control_arm {control!r} is not one of the arms {sorted(codes)}")
    elif codes[control].active:
        problems.append(f"[analysis]: control_arm {control!r} is an active arm")
    contrasts = tuple(str(c) for c in a.get("contrasts", [arm.code for arm in arms if arm.active]))
    if not contrasts:
        problems.append("[analysis]: at least one contrast is needed")
    for c in contrasts:
        if c not in codes or c == control:
            problems.append(f"[analysis]: contrast {c!r} must be an arm other than the control")
    if len(set(contrasts)) != len(contrasts):
        problems.append("[analysis]: a contrast is listed twice")
    multiplicity = a.get("multiplicity", "none" if len(contrasts) == 1 else None)
    if multiplicity is None:
        problems.append(
            f"[analysis]: {len(contrasts)} contrasts need a stated multiplicity procedure (one of {list(MULTIPLICITY)})"
        )
    elif multiplicity not in MULTIPLICITY:
        problems.append(f"[analysis]: multiplicity must be one of {list(MULTIPLICITY)}, not {multiplicity!r}")
    alpha = a.get("alpha", 0.05)
    if not isinstance(alpha, float) or not 0 < alpha < 1:
        problems.append(f"[analysis]: alpha must be a number between 0 and 1, not {alpha!r}")
    return AnalysisPlan(
        control_arm=str(control),
        contrasts=contrasts,
        multiplicity=str(multiplicity or "none"),
        alpha=float(alpha) if isinstance(alpha, float) else 0.05,
    )


def load_protocol_file(path: Path | str) -> ProtocolConfig:
    return parse_protocol(Path(path).read_text(encoding="utf-8"))
