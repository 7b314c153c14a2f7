"""The one data dictionary: every exported variable, generated from the models and the protocol file.

A variable's name (at most 8 characters: SAS XPORT v5 and SDTM), label (at most 40), type, units and
value labels come from the model field (verbose name, internal type, choices) and from the protocol
file (measure units, lab units, visit and analyte codes, eligibility criterion texts, HAM-D item
names), so a second trial's protocol file changes the codebook without a code change. Only names
longer than 8 characters need an abbreviation here, and a test fails if one is missing or clashes.
Every format (CSV, XLSX, SAS, SPSS, Stata, R, ODM) and the codebook page read these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import models

from trial.participants.models import Consent, EndOfStudy, Participant, Screening
from trial.protocol.selectors import protocol
from trial.queries.models import DataQuery, QueryMessage
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, Visit, VitalSigns

NAME_MAX = 8  # SAS XPORT v5 and SDTMIG variable names
LABEL_MAX = 40  # SAS XPORT v5 and SDTMIG variable labels

NUM, CHAR, DATE, DATETIME = "num", "char", "date", "datetime"

YES_NO: tuple[tuple[Any, str], ...] = ((0, "No"), (1, "Yes"))

# CGI-S anchor points (Guy 1976, ECDEU Assessment Manual): the protocol file gives the range 1-7.
CGIS_LABELS = (
    (1, "Normal, not at all ill"),
    (2, "Borderline mentally ill"),
    (3, "Mildly ill"),
    (4, "Moderately ill"),
    (5, "Markedly ill"),
    (6, "Severely ill"),
    (7, "Among the most extremely ill"),
)

# Names longer than 8 characters, abbreviated (SAS XPORT v5 / SDTMIG 2.2: names <= 8).
SHORT_NAMES: dict[str, str] = {
    "participant_id": "SUBJID",
    "screening_number": "SCRNUM",
    "site_code": "SITEID",
    "randomization_number": "RANDNO",
    "randomized_at": "RANDDTC",
    "visit_code": "VISIT",
    "visit_date": "VISDAT",
    "record_id": "RECID",
    "screening_date": "SCRDAT",
    "screening_crp_mg_l": "SCRCRP",
    "screening_crp_enriched": "CRPENR",
    "hamd_item3": "HAMD3",
    "on_antidepressant": "ONAD",
    "episode_duration_months": "EPIDUR",
    "height_cm": "HEIGHT",
    "weight_kg": "WEIGHT",
    "age_25_60": "INAGE",
    "major_depression_scid": "INMDD",
    "stable_antidepressant_4wk": "INSTABAD",
    "mgh_s_ge_2": "INMGHS",
    "qids_sr_ge_14": "INQIDS",
    "informed_consent": "INCONS",
    "autoimmune_disorder": "EXAUTO",
    "tuberculosis_risk": "EXTB",
    "hepatitis_or_hiv": "EXHEPHIV",
    "active_fungal_or_recurrent_infection": "EXINFECT",
    "cancer_history": "EXCANCER",
    "unstable_medical_illness": "EXUNSTAB",
    "schizophrenia_or_psychosis": "EXPSYCH",
    "substance_abuse_6mo": "EXSUBST",
    "active_suicidal_ideation": "EXSUIC",
    "mmse_lt_28": "EXMMSE",
    "failed_criteria": "FAILCRIT",
    "form_version": "FORMVER",
    "consent_date": "ICDAT",
    "taken_by": "TAKENBY",
    "participant_signed": "SIGNED",
    "copy_given": "COPYGIVN",
    "rated_by": "RATEDBY",
    "replicate_1": "REP1",
    "replicate_2": "REP2",
    "assay_batch": "BATCH",
    "sample_time": "SAMPTIM",
    "systolic_mmhg": "SYSBP",
    "diastolic_mmhg": "DIABP",
    "heart_rate_bpm": "PULSE",
    "temperature_c": "TEMP",
    "planned_dose_mg": "DOSE",
    "start_time": "STTIM",
    "delayed_for_infection": "DELAYINF",
    "delay_reason": "DELAYRSN",
    "delay_days": "DELAYDAY",
    "onset_date": "ONSET",
    "sae_death": "SAEDTH",
    "sae_life_threatening": "SAELIFE",
    "sae_hospitalization": "SAEHOSP",
    "sae_disability": "SAEDISAB",
    "sae_congenital_anomaly": "SAECONG",
    "sae_important_medical_event": "SAEMIE",
    "relatedness": "RELATED",
    "action_taken": "ACTION",
    "drug_class": "DRUGCLS",
    "indication": "INDIC",
    "start_date": "STDAT",
    "prohibited": "PROHIB",
    "deviation_date": "DVDAT",
    "description": "DESCR",
    "reported_by": "REPBY",
    "concomitant_medication": "CMRECID",
    "scheduled_date": "SCHDAT",
    "window_start": "WINSTART",
    "out_of_window": "OUTWIN",
    "check_code": "CHECK",
    "audience": "AUDIENCE",
    "opened_by": "OPENEDBY",
    "created_at": "CREATED",
    "created_by": "CREATBY",
    "closed_at": "CLOSED",
    "closed_by": "CLOSEDBY",
    "query_id": "QUERYID",
    "hamd_total": "HAMDTOT",
    "baseline": "BASE",
    "printed_name": "PRTNAME",
    "content_sha256": "SHA256",
    "void_reason": "VOIDRSN",
    "history_id": "HISTID",
    "history_date": "HISTDTC",
    "history_user": "HISTUSER",
    "history_type": "HISTTYPE",
    "change_reason": "REASON",
    "randomized_by": "RANDBY",
    "window_end": "WINEND",
    "at": "EVENTDTC",
    "dispensed_at": "DISPDTC",
    "dispensed_by": "DISPBY",
    "dispensed_to": "DISPTO",
    "prepared_at": "PREPDTC",
    "prepared_by": "PREPBY",
    "second_checker": "CHECKER",
    "second_checked_at": "CHECKDTC",
    "second_checked_by": "CHECKBY",
    "vials_from_lot": "LOTVIALS",
    "saline_lot": "SALINLOT",
    "lot_number": "LOTNO",
    "wasted_reason": "WASTRSN",
    "volume_ml": "VOLUME",
    "actual_date": "ACTDAT",
    "stop_time": "SPTIM",
    "dose_unit": "DOSEU",
    # A missed visit's coded reason ([missed_visits]); the AE dictionary coding as SDTM's AE domain names it.
    "reason_code": "RSNCD",
    "coded_llt": "AELLT",
    "coded_pt": "AEDECOD",
    "coded_soc": "AEBODSYS",
    "coding": "AECODST",
}

# Fields every clinical record carries for the audit trail; exported in the audit dataset, not per form.
_AUDIT_FIELDS = frozenset(
    {"id", "version", "created_at", "created_by", "updated_at", "updated_by", "voided_at", "voided_by", "void_reason"}
)

# Field -> unit where the field name alone says it (the protocol's [measures] table is asked first).
_UNIT_SUFFIXES = (
    ("_mg_l", "mg/L"),
    ("_mmhg", "mmHg"),
    ("_bpm", "bpm"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_mg", "mg"),
    ("_ml", "mL"),
    ("_months", "months"),
    ("_days", "days"),
)


@dataclass(frozen=True)
class Variable:
    name: str  # at most 8 characters, upper case
    label: str  # at most 40 characters
    type: str  # num, char, date or datetime
    units: str = ""
    value_labels: tuple[tuple[Any, str], ...] = ()
    source: str = ""  # the model field or derived column it comes from


@dataclass(frozen=True)
class DatasetDef:
    code: str  # at most 8 characters: the XPT member name and the file name
    label: str  # at most 40 characters
    description: str
    model: type[models.Model] | None = None
    anchor: str = "participant"  # visit: keyed by participant and visit; participant: by participant
    fields: tuple[str, ...] = ()  # model fields, in order; empty: every concrete non-audit field
    extra: tuple[Variable, ...] = field(default_factory=tuple)  # derived columns, after the fields
    unblinded_only: bool = False  # whole dataset reveals arms (pharmacy): unblinded roles only


def short_name(source: str) -> str:
    name = SHORT_NAMES.get(source, source)
    return name.upper()


def _label(text: str) -> str:
    text = str(text).strip()
    text = text[:1].upper() + text[1:]
    if len(text) <= LABEL_MAX:
        return text
    # Cut at a word boundary, so a truncated label still reads (the full text is in the codebook's description).
    cut = text[: LABEL_MAX - 3].rsplit(" ", 1)[0]
    return cut + "..."


def _units(field_name: str) -> str:
    measures = protocol().measures
    if field_name in measures:
        return measures[field_name].unit
    if field_name == "temperature_c":
        return "°C"
    for suffix, unit in _UNIT_SUFFIXES:
        if field_name.endswith(suffix):
            return unit
    return ""


def _criterion_texts() -> dict[str, str]:
    cfg = protocol()
    return {c.code: c.text for c in (*cfg.inclusion, *cfg.exclusion)}


def _hamd_item_names() -> dict[str, str]:
    return {f"item_{i.number}": f"HAM-D {i.number} {i.name}" for i in protocol().hamd_items}


def variable_for_field(model: type[models.Model], field_name: str) -> Variable:
    """One model field as an exported variable: the codebook entry, derived, never typed twice."""
    f = model._meta.get_field(field_name)
    assert isinstance(f, models.Field)
    name = short_name(field_name)
    criteria = _criterion_texts()
    hamd = _hamd_item_names()
    if field_name in criteria and model is Screening:
        label = criteria[field_name]
    elif field_name in hamd and model is HamD17:
        label = hamd[field_name]
    elif field_name == "total" and model is HamD17:
        label = "HAM-D-17 total score"
    else:
        label = str(f.verbose_name)
    value_labels: tuple[tuple[Any, str], ...] = ()
    if isinstance(f, models.BooleanField):
        vtype = NUM
        value_labels = YES_NO
    elif isinstance(f, models.DateTimeField):
        vtype = DATETIME
    elif isinstance(f, models.DateField):
        vtype = DATE
    elif isinstance(f, models.IntegerField | models.DecimalField | models.FloatField):
        vtype = NUM
    elif isinstance(f, models.ForeignKey):
        # A user is exported by user name; any other record by its id.
        vtype = CHAR if is_user_model(f.related_model) else NUM
        if vtype == CHAR:
            label = f"{label} (user name)"
    else:
        vtype = CHAR
    if f.choices and not isinstance(f, models.BooleanField):
        value_labels = tuple((code, str(text)) for code, text in f.choices)
    if model is CGIS and field_name == "score":
        value_labels = CGIS_LABELS
    if model is LabResult and field_name == "analyte":
        value_labels = tuple((a.code, a.label) for a in protocol().labs)
    if model is EndOfStudy and field_name == "reason":
        value_labels = tuple((r, r.capitalize()) for r in protocol().end_of_study_reasons)
    return Variable(
        name=name,
        label=_label(label),
        type=vtype,
        units=_units(field_name),
        value_labels=value_labels,
        source=field_name,
    )


def is_user_model(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, models.Model) and model._meta.label == "core.User"


def _auto_fields(model: type[models.Model], anchor: str) -> tuple[str, ...]:
    skip = _AUDIT_FIELDS | {"participant", "visit", "site", "definition"} | ({"participant"} if anchor else set())
    return tuple(f.name for f in model._meta.concrete_fields if f.name not in skip)


def _visit_labels() -> tuple[tuple[Any, str], ...]:
    return tuple((v.code, v.name) for v in protocol().visits)


def key_variables(anchor: str) -> tuple[Variable, ...]:
    keys = [Variable("SUBJID", "Participant ID", CHAR, source="participant_id")]
    if anchor == "visit":
        keys += [
            Variable("VISIT", "Visit", CHAR, value_labels=_visit_labels(), source="visit_code"),
            Variable("WEEK", "Study week", NUM, units="weeks", source="week"),
            Variable("VISDAT", "Visit date", DATE, source="visit_date"),
        ]
    keys += [
        Variable("RECID", "Record id", NUM, source="record_id"),
        Variable("VERSION", "Record version", NUM, source="version"),
    ]
    return tuple(keys)


ARM_VARIABLE_SOURCE = "arm"


def arm_variable() -> Variable:
    """Only ever added for a user trial.blinding lets see every arm (never in a blinded export)."""
    return Variable(
        "ARM",
        "Treatment arm",
        CHAR,
        value_labels=tuple((a.code, a.label) for a in protocol().arms),
        source=ARM_VARIABLE_SOURCE,
    )


_USER = "user name"

DATASETS: tuple[DatasetDef, ...] = (
    DatasetDef(
        "dm",
        "Participants",
        "One row per participant: identifiers, sex, age, status, randomization number and stratum.",
        model=Participant,
        anchor="",
        fields=("participant_id", "screening_number", "sex", "status"),
        extra=(
            Variable("SITEID", "Site", CHAR, source="site_code"),
            Variable("AGE", "Age at screening", NUM, units="years", source="age"),
            Variable("RANDNO", "Randomization number", CHAR, source="randomization_number"),
            Variable("RANDDTC", "Date and time of randomization", DATETIME, source="randomized_at"),
            Variable("STRATUM", "Randomization stratum", CHAR, source="stratum"),
        ),
    ),
    DatasetDef("scr", "Screening and eligibility", "Screening measures and each eligibility criterion.", Screening),
    DatasetDef("ic", "Informed consent", "Consent: form version, date, who took it.", Consent),
    DatasetDef(
        "sv",
        "Visits, done and missed",
        "Every scheduled visit: dates, window, status, why missed.",
        Visit,
        anchor="visit",
    ),
    DatasetDef("hamd", "HAM-D-17 items and total", "HAM-D-17 at item level with the total.", HamD17, anchor="visit"),
    DatasetDef("cgis", "CGI-S", "Clinical Global Impression - Severity.", CGIS, anchor="visit"),
    DatasetDef(
        "lb", "Laboratory results", "hs-CRP, TNF, sTNFR1, sTNFR2 with the ELISA duplicates.", LabResult, anchor="visit"
    ),
    DatasetDef("vs", "Vital signs", "Weight, blood pressure, heart rate, temperature.", VitalSigns, anchor="visit"),
    DatasetDef(
        "ex", "Infusions", "Infusions given: weight, planned dose, times, delays, reactions.", Infusion, anchor="visit"
    ),
    DatasetDef("ae", "Adverse events", "Adverse events with seriousness criteria.", AdverseEvent),
    DatasetDef(
        "cm", "Concomitant medications", "Concomitant medications; prohibited classes flagged.", ConcomitantMedication
    ),
    DatasetDef("dv", "Protocol deviations", "Protocol deviations.", ProtocolDeviation),
    DatasetDef("eos", "End of study", "End of study or withdrawal, with the reason.", EndOfStudy),
    DatasetDef(
        "dq",
        "Data queries",
        "Data queries with their status.",
        DataQuery,
        fields=("form", "field", "text", "status", "source", "check_code", "opened_by", "closed_at", "closed_by"),
    ),
    DatasetDef(
        "dqhist",
        "Data query history",
        "Every message and status change of every data query.",
        QueryMessage,
        anchor="",
        fields=("action", "text", "author", "created_at"),
        extra=(
            Variable("SUBJID", "Participant ID", CHAR, source="participant_id"),
            Variable("QUERYID", "Data query record id", NUM, source="query_id"),
        ),
    ),
    DatasetDef(
        "sig",
        "Electronic signatures",
        "Every casebook signature, valid and void (21 CFR 11.50).",
        anchor="",
        extra=(
            Variable("SUBJID", "Participant ID", CHAR, source="participant_id"),
            Variable("SIGNER", "Signer (user name)", CHAR, source="signer"),
            Variable("PRTNAME", "Printed name", CHAR, source="printed_name"),
            Variable("MEANING", "Meaning of the signature", CHAR, source="meaning"),
            Variable("SIGNDTC", "Date and time signed (UTC)", DATETIME, source="signed_at"),
            Variable("SHA256", "SHA-256 of the content signed", CHAR, source="content_sha256"),
            Variable("VOIDDTC", "Date and time voided (UTC)", DATETIME, source="voided_at"),
            Variable("VOIDRSN", "Why the signature was voided", CHAR, source="void_reason"),
        ),
    ),
    DatasetDef(
        "lock",
        "Lock and unblinding events",
        "Casebook locks and unlocks, database lock approvals, the formal unblinding.",
        anchor="",
        extra=(
            Variable("EVENT", "Event", CHAR, source="event"),
            Variable("SUBJID", "Participant ID (casebook events)", CHAR, source="participant_id"),
            Variable("EVENTDTC", "Date and time (UTC)", DATETIME, source="at"),
            Variable("ACTBY", "By (user name)", CHAR, source="by"),
            Variable("REASON", "Reason", CHAR, source="change_reason"),
        ),
    ),
    DatasetDef(
        "audit",
        "Audit trail",
        "Every saved version of every exported clinical record: who, when, why, old -> new (21 CFR 11.10(e)).",
        anchor="",
        extra=(
            Variable("DATASET", "Dataset of the record", CHAR, source="dataset"),
            Variable("RECID", "Record id", NUM, source="record_id"),
            Variable("SUBJID", "Participant ID", CHAR, source="participant_id"),
            Variable("HISTID", "History snapshot id", NUM, source="history_id"),
            Variable("HISTDTC", "Date and time of the change (UTC)", DATETIME, source="history_date"),
            Variable("HISTUSER", "Changed by (user name)", CHAR, source="history_user"),
            Variable(
                "HISTTYPE",
                "Type of change",
                CHAR,
                value_labels=(("created", "Created"), ("changed", "Changed"), ("deleted", "Deleted")),
                source="history_type",
            ),
            Variable("VERSION", "Record version", NUM, source="version"),
            Variable("REASON", "Reason for change", CHAR, source="change_reason"),
            Variable("CHANGES", "Changes (field: old -> new)", CHAR, source="changes"),
        ),
    ),
    DatasetDef(
        "pharm",
        "Pharmacy preparations (unblinded)",
        "Infusion bags prepared and dispensed, with kit id, lot and arm. Unblinded roles only.",
        anchor="visit",
        unblinded_only=True,
        extra=(
            Variable("KITID", "Kit id", CHAR, source="kit_id"),
            Variable("ARM", "Treatment arm", CHAR, source="arm"),
            Variable("WEIGHT", "Weight", NUM, units="kg", source="weight_kg"),
            Variable("DOSE", "Dose", NUM, units="mg", source="dose_mg"),
            Variable("VIALS", "Vial-equivalents of the dose", NUM, source="vials"),
            Variable("VOLUME", "Volume added to the 250 mL bag", NUM, units="mL", source="volume_ml"),
            Variable("LOTNO", "Drug lot number", CHAR, source="lot_number"),
            Variable("SALINLOT", "Saline bag lot", CHAR, source="saline_lot"),
            Variable("PREPDTC", "Prepared at (UTC)", DATETIME, source="prepared_at"),
            Variable("STATUS", "Status", CHAR, source="status"),
            Variable("DISPDTC", "Dispensed at (UTC)", DATETIME, source="dispensed_at"),
        ),
    ),
    DatasetDef(
        "mmrm",
        "MMRM analysis dataset",
        "HAM-D-17 total, baseline and change by participant and week: the primary analysis dataset (SAP).",
        anchor="",
        extra=(
            Variable("SUBJID", "Participant ID", CHAR, source="participant_id"),
            Variable("WEEK", "Study week", NUM, units="weeks", source="week"),
            Variable("VISDAT", "Visit date", DATE, source="visit_date"),
            Variable("HAMDTOT", "HAM-D-17 total score", NUM, source="hamd_total"),
            Variable("BASE", "Baseline HAM-D-17 total", NUM, source="baseline"),
            Variable("CHG", "Change from baseline in HAM-D-17", NUM, source="chg"),
        ),
    ),
)

DATASETS_BY_CODE = {d.code: d for d in DATASETS}


@cache
def _model_variables(code: str, protocol_sha256: str) -> tuple[Variable, ...]:
    # Keyed by the protocol file's hash: labels (criterion texts, units, visit codes) come from the
    # protocol in force, so a process that loads another file must not reuse the first file's labels.
    ds = DATASETS_BY_CODE[code]
    if ds.model is None:
        # A dataset built by hand but anchored on visits (the pharmacy's) carries the same keys as the
        # others, so its rows can be joined to the participant and visit they belong to.
        return (*key_variables(ds.anchor), *ds.extra) if ds.anchor == "visit" else ds.extra
    fields = ds.fields or _auto_fields(ds.model, ds.anchor)
    keys = key_variables(ds.anchor) if ds.anchor else ()
    return (*keys, *(variable_for_field(ds.model, f) for f in fields), *ds.extra)


def variables(code: str) -> tuple[Variable, ...]:
    """The dataset's variables in column order (the arm is added by the dataset builder, when allowed)."""
    return _model_variables(code, protocol().sha256)


def codebook_rows(codes: list[str] | None = None) -> list[dict[str, str]]:
    """One row per dataset x variable: the CSV and HTML codebook, and the XLSX codebook sheet."""
    rows = []
    for ds in DATASETS:
        if codes is not None and ds.code not in codes:
            continue
        for v in variables(ds.code):
            rows.append(
                {
                    "dataset": ds.code,
                    "dataset_label": ds.label,
                    "name": v.name,
                    "label": v.label,
                    "type": v.type,
                    "units": v.units,
                    "value_labels": "; ".join(f"{code}={text}" for code, text in v.value_labels),
                }
            )
    return rows
