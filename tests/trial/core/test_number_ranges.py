"""Every number a clinical record stores has an explicit range (min and max) on its model field, so
a value means the same on SQLite and PostgreSQL (2^31 months is refused by both, not stored by one
and refused by the other), and each range holds the protocol file's plausible range, so the
stricter protocol rule, not the field, is what a user meets (ICH E6(R3) data integrity)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trial.core.models import ClinicalRecord
from trial.protocol.config import ProtocolConfig, load_protocol_file

NUMBERS = (models.IntegerField, models.FloatField, models.DecimalField)
PROTOCOLS = sorted((Path(__file__).resolve().parents[3] / "protocols").glob("*.toml"))


def clinical_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if issubclass(m, ClinicalRecord) and not m._meta.abstract and not m.__name__.startswith("Historical")
    ]


def number_fields() -> list[tuple[type[models.Model], models.Field]]:  # type: ignore[type-arg]
    return [
        (m, f)
        for m in clinical_models()
        for f in m._meta.concrete_fields
        if isinstance(f, NUMBERS) and not f.primary_key and not f.is_relation
    ]


def explicit_range(field: models.Field) -> tuple[float | None, float | None]:  # type: ignore[type-arg]
    # `_validators` are the ones the model declares; `validators` adds the database backend's own
    # integer limits, which differ between SQLite and PostgreSQL and are exactly what must not decide.
    lo = [v.limit_value for v in field._validators if isinstance(v, MinValueValidator)]
    hi = [v.limit_value for v in field._validators if isinstance(v, MaxValueValidator)]
    return (lo[0] if lo else None, hi[0] if hi else None)


def test_the_walk_finds_the_clinical_numbers() -> None:
    names = {(m.__name__, f.name) for m, f in number_fields()}
    assert {("Screening", "episode_duration_months"), ("HamD17", "total"), ("LabResult", "value")} <= names
    assert len(names) > 40


def test_every_number_of_every_clinical_record_has_an_explicit_min_and_max() -> None:
    offenders = [
        f"{m._meta.label}.{f.name} ({type(f).__name__}): min {lo}, max {hi}"
        for m, f in number_fields()
        for lo, hi in [explicit_range(f)]
        if lo is None or hi is None or callable(lo) or callable(hi) or lo > hi
    ]
    assert offenders == [], "numbers without an explicit range:\n" + "\n".join(offenders)


def test_the_range_refuses_what_sqlite_would_store_and_postgresql_refuse() -> None:
    from trial.participants.models import Screening

    field = Screening._meta.get_field("episode_duration_months")
    with pytest.raises(ValidationError):
        field.clean(2**31, Screening())
    with pytest.raises(ValidationError):
        field.clean(-1, Screening())
    assert field.clean(120, Screening()) == 120


def _protocol_ranges(cfg: ProtocolConfig) -> dict[tuple[str, str], tuple[float, float]]:
    """(model, field) -> the protocol file's plausible range for what that field stores."""
    measure = {
        ("Screening", "weight_kg"): "weight_kg",
        ("VitalSigns", "weight_kg"): "weight_kg",
        ("Infusion", "weight_kg"): "weight_kg",
        ("Preparation", "weight_kg"): "weight_kg",
        ("Screening", "height_cm"): "height_cm",
        ("VitalSigns", "systolic_mmhg"): "systolic_mmhg",
        ("VitalSigns", "diastolic_mmhg"): "diastolic_mmhg",
        ("VitalSigns", "heart_rate_bpm"): "heart_rate_bpm",
        ("VitalSigns", "temperature_c"): "temperature_c",
        ("Screening", "episode_duration_months"): "episode_duration_months",
        ("ConcomitantMedication", "dose"): "conmed_dose",
        ("Infusion", "delay_days"): "infusion_delay_days",
        ("DrugLot", "vials_received"): "vials",
        ("Wastage", "vials"): "vials",
    }
    ranges = {k: (cfg.measure(code).min, cfg.measure(code).max) for k, code in measure.items() if code in cfg.measures}
    scales = {("Screening", "qids_sr"): "qids_sr", ("Screening", "mmse"): "mmse", ("Screening", "mgh_s"): "mgh_s"}
    scales |= {("CGIS", "score"): "cgis"}
    ranges |= {k: (cfg.scales[code].min, cfg.scales[code].max) for k, code in scales.items() if code in cfg.scales}
    ranges |= {("HamD17", f"item_{i.number}"): (0, i.max) for i in cfg.hamd_items}
    ranges[("HamD17", "total")] = (0, sum(i.max for i in cfg.hamd_items))
    for lab in cfg.labs:
        for name in ("value", "replicate_1", "replicate_2"):
            lo, hi = ranges.get(("LabResult", name), (lab.min, lab.max))
            ranges[("LabResult", name)] = (min(lo, lab.min), max(hi, lab.max))
    crp = next((a for a in cfg.labs if a.code == "hs_crp"), None)
    if crp is not None:
        ranges[("Screening", "screening_crp_mg_l")] = (crp.min, crp.max)
    return ranges


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: p.name)
def test_each_range_holds_what_the_protocol_file_allows(path: Path) -> None:
    fields = {(m.__name__, f.name): f for m, f in number_fields()}
    ranges = _protocol_ranges(load_protocol_file(path))
    assert len(ranges) >= 30, "the protocol mapping found too few fields"
    narrower = []
    for key, (lo, hi) in ranges.items():
        field_lo, field_hi = explicit_range(fields[key])
        assert field_lo is not None and field_hi is not None
        if lo < field_lo or hi > field_hi:
            narrower.append(f"{key}: field {field_lo}..{field_hi}, protocol {lo}..{hi}")
    assert narrower == [], "a field refuses values the protocol file allows:\n" + "\n".join(narrower)
