"""SDTM-lite: DM, DS, SV, EX, AE, CM, LB, VS and QS as SAS XPORT v5 files, with a define.xml
(Define-XML 2.0). Built from the export Tables, which trial.blinding has already filtered; on top of
that the arm (ARM, ARMCD, ACTARM, ACTARMCD) and the treatment in EX read "BLINDED" unless the
export was asked for with the arm by a role that may see it (SDTMIG 3.2 section 5 DM assumptions
allow a masked arm in an interim transfer; ICH E6(R3) 4.2 keeps it masked until unblinding).

SDTMIG rules followed: STUDYID/DOMAIN/USUBJID (STUDYID-SUBJID)/--SEQ (per subject, from 1) keys;
variable names <= 8 and labels <= 40 characters; --TESTCD <= 8 characters; ISO 8601 dates and
date-times (--DTC); VISITNUM = protocol week; numeric results in --STRESN with --STRESU; AELLT,
AEDECOD and AEBODSYS from the AE coding (the trial's MedDRA-shaped dictionary, named in define.xml);
EXDOSE, with the arm, the dose the pharmacy prepared. Not yet: licensed MedDRA and its codes
(AELLTCD, AEPTCD, AEHLT...), AEDECOD of an event not yet coded (left empty, though SDTMIG requires
it), WHO Drug for CMDECOD, EPOCH, --DY study days, SUPPQUAL, trial design domains (TA, TE, TV, TI,
TS) and the ELISA replicates (kept in the item-level LB dataset of the other formats).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
from lxml import etree

from trial.protocol.selectors import protocol
from trial.safety.coding import DICTIONARY_FILE
from trial.visits.models import arm_dose_mg

SDTM_SOURCES = ("dm", "sv", "ex", "ae", "cm", "lb", "vs", "hamd", "cgis", "eos")
BLINDED = "BLINDED"


@dataclass(frozen=True)
class SdtmVar:
    name: str
    label: str
    type: str = "text"  # text, integer, float, date, datetime


@dataclass(frozen=True)
class Domain:
    code: str
    label: str
    structure: str
    sdtm_class: str
    variables: tuple[SdtmVar, ...]
    frame: pd.DataFrame


def _iso(value: Any) -> str:
    """ISO 8601 (SDTMIG 4.4): YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss in UTC; empty when unknown."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


_KEYS = (
    SdtmVar("STUDYID", "Study Identifier"),
    SdtmVar("DOMAIN", "Domain Abbreviation"),
    SdtmVar("USUBJID", "Unique Subject Identifier"),
)


def _keyed(code: str, rows: list[dict[str, Any]], seq: str | None) -> list[dict[str, Any]]:
    study = protocol().code
    counters: dict[str, int] = {}
    out = []
    for row in sorted(rows, key=lambda r: (r["_subj"], r.get("_order", 0))):
        subj = row.pop("_subj")
        row.pop("_order", None)
        keyed: dict[str, Any] = {"STUDYID": study, "DOMAIN": code, "USUBJID": f"{study}-{subj}"}
        if seq:
            counters[subj] = counters.get(subj, 0) + 1
            keyed[seq] = counters[subj]
        out.append(keyed | row)
    return out


def _domain(
    code: str, label: str, structure: str, cls: str, vars_: tuple[SdtmVar, ...], rows: list[dict[str, Any]]
) -> Domain:
    seq = next((v.name for v in vars_ if v.name.endswith("SEQ")), None)
    all_vars = (*_KEYS, *vars_)
    data = _keyed(code, rows, seq)
    columns: dict[str, Any] = {}
    for v in all_vars:
        col = [r.get(v.name) for r in data]
        if v.type in ("integer", "float"):
            columns[v.name] = pd.Series([_num(x) for x in col], dtype="float64")
        else:
            columns[v.name] = pd.Series(["" if x is None else str(x) for x in col], dtype="object")
    return Domain(code, label, structure, cls, all_vars, pd.DataFrame(columns, columns=[v.name for v in all_vars]))


def _records(tables: dict[str, Any], code: str) -> list[dict[str, Any]]:
    t = tables.get(code)
    return [] if t is None else list(t.frame.to_dict("records"))


def _visits() -> dict[str, tuple[int, str]]:
    return {v.code: (v.week, v.name) for v in protocol().visits}


def build_domains(tables: dict[str, Any], *, with_arm: bool) -> list[Domain]:
    cfg = protocol()
    arms = {a.code: a.label for a in cfg.arms}
    visits = _visits()
    baseline = {r["SUBJID"]: r["VISDAT"] for r in _records(tables, "sv") if r["VISIT"] == "W0" and r["VISDAT"]}
    arm_of = {r["SUBJID"]: r.get("ARM") for r in _records(tables, "dm")} if with_arm else {}

    def arm(subj: str) -> tuple[str, str]:
        code = arm_of.get(subj) if with_arm else None
        if not code or (isinstance(code, float) and pd.isna(code)):
            return (BLINDED, BLINDED) if not with_arm else ("", "")
        return str(code), arms.get(str(code), str(code))

    dm_rows = []
    for r in _records(tables, "dm"):
        armcd, armlabel = arm(r["SUBJID"]) if r["RANDNO"] else ("", "")
        dm_rows.append(
            {
                "_subj": r["SUBJID"],
                "SUBJID": r["SUBJID"],
                "RFSTDTC": _iso(baseline.get(r["SUBJID"])),
                "SITEID": r["SITEID"],
                "AGE": _num(r["AGE"]),
                "AGEU": "YEARS",
                "SEX": r["SEX"],
                "ARMCD": armcd if r["RANDNO"] else "NOTASSGN",
                "ARM": armlabel if r["RANDNO"] else "Not Assigned",
                "ACTARMCD": armcd if r["RANDNO"] else "NOTASSGN",
                "ACTARM": armlabel if r["RANDNO"] else "Not Assigned",
                "COUNTRY": "USA",
            }
        )
    dm = _domain(
        "DM",
        "Demographics",
        "One record per subject",
        "SPECIAL PURPOSE",
        (
            SdtmVar("SUBJID", "Subject Identifier for the Study"),
            SdtmVar("RFSTDTC", "Subject Reference Start Date/Time", "date"),
            SdtmVar("SITEID", "Study Site Identifier"),
            SdtmVar("AGE", "Age", "integer"),
            SdtmVar("AGEU", "Age Units"),
            SdtmVar("SEX", "Sex"),
            SdtmVar("ARMCD", "Planned Arm Code"),
            SdtmVar("ARM", "Description of Planned Arm"),
            SdtmVar("ACTARMCD", "Actual Arm Code"),
            SdtmVar("ACTARM", "Description of Actual Arm"),
            SdtmVar("COUNTRY", "Country"),
        ),
        dm_rows,
    )

    ds_rows = []
    for r in _records(tables, "dm"):
        if r["RANDDTC"] is not None and not pd.isna(r["RANDDTC"]):
            ds_rows.append(
                {
                    "_subj": r["SUBJID"],
                    "_order": 0,
                    "DSTERM": "RANDOMIZED",
                    "DSDECOD": "RANDOMIZED",
                    "DSCAT": "PROTOCOL MILESTONE",
                    "DSSTDTC": _iso(r["RANDDTC"]),
                }
            )
    for r in _records(tables, "eos"):
        ds_rows.append(
            {
                "_subj": r["SUBJID"],
                "_order": 1,
                "DSTERM": str(r["REASON"]).upper(),
                "DSDECOD": str(r["OUTCOME"]).upper(),
                "DSCAT": "DISPOSITION EVENT",
                "DSSTDTC": _iso(r["END_DATE"] if "END_DATE" in r else r.get("ENDDAT")),
            }
        )
    ds = _domain(
        "DS",
        "Disposition",
        "One record per disposition status or protocol milestone per subject",
        "EVENTS",
        (
            SdtmVar("DSSEQ", "Sequence Number", "integer"),
            SdtmVar("DSTERM", "Reported Term for the Disposition Event"),
            SdtmVar("DSDECOD", "Standardized Disposition Term"),
            SdtmVar("DSCAT", "Category for Disposition Event"),
            SdtmVar("DSSTDTC", "Start Date/Time of Disposition Event", "datetime"),
        ),
        ds_rows,
    )

    sv_rows = [
        {
            "_subj": r["SUBJID"],
            "_order": r["WEEK"],
            "VISITNUM": r["WEEK"],
            "VISIT": visits[r["VISIT"]][1],
            "SVSTDTC": _iso(r["VISDAT"]),
        }
        for r in _records(tables, "sv")
        if r["STATUS"] == "done"
    ]
    sv = _domain(
        "SV",
        "Subject Visits",
        "One record per subject per actual visit",
        "SPECIAL PURPOSE",
        (
            SdtmVar("VISITNUM", "Visit Number", "float"),
            SdtmVar("VISIT", "Visit Name"),
            SdtmVar("SVSTDTC", "Start Date/Time of Visit", "date"),
        ),
        sv_rows,
    )

    prepared = _prepared_doses(tables) if with_arm else {}
    ex_rows = []
    for r in _records(tables, "ex"):
        armcd, armlabel = arm(r["SUBJID"])
        given = next((a for a in cfg.arms if a.code == armcd), None) if with_arm else None
        ex_rows.append(
            {
                "_subj": r["SUBJID"],
                "_order": r["WEEK"],
                "EXTRT": armlabel if with_arm else BLINDED,
                "EXDOSE": _ex_dose(given, prepared.get((r["SUBJID"], r["VISIT"])), r),
                "EXDOSU": "mg",
                "EXROUTE": "INTRAVENOUS",
                "VISITNUM": r["WEEK"],
                "VISIT": visits[r["VISIT"]][1],
                "EXSTDTC": _iso(r["STTIM"]) or _iso(r["VISDAT"]),
                "EXENDTC": _iso(r["SPTIM"]),
            }
        )
    ex = _domain(
        "EX",
        "Exposure",
        "One record per constant dosing interval per subject",
        "INTERVENTIONS",
        (
            SdtmVar("EXSEQ", "Sequence Number", "integer"),
            SdtmVar("EXTRT", "Name of Treatment"),
            SdtmVar("EXDOSE", "Dose", "float"),
            SdtmVar("EXDOSU", "Dose Units"),
            SdtmVar("EXROUTE", "Route of Administration"),
            SdtmVar("VISITNUM", "Visit Number", "float"),
            SdtmVar("VISIT", "Visit Name"),
            SdtmVar("EXSTDTC", "Start Date/Time of Treatment", "datetime"),
            SdtmVar("EXENDTC", "End Date/Time of Treatment", "datetime"),
        ),
        ex_rows,
    )

    ae_rows = [
        {
            "_subj": r["SUBJID"],
            "_order": _iso(r["ONSET"]),
            "AETERM": r["TERM"],
            **_ae_coding(r),
            "AESEV": str(r["SEVERITY"]).upper(),
            "AESER": "Y" if r["SERIOUS"] == 1 else "N",
            "AEREL": str(r["RELATED"]).upper(),
            "AEACN": str(r["ACTION"]).upper(),
            "AEOUT": str(r["OUTCOME"]).upper(),
            "AESTDTC": _iso(r["ONSET"]),
            "AEENDTC": _iso(r["END_DATE"]),
        }
        for r in _records(tables, "ae")
    ]
    ae = _domain(
        "AE",
        "Adverse Events",
        "One record per adverse event per subject",
        "EVENTS",
        (
            SdtmVar("AESEQ", "Sequence Number", "integer"),
            SdtmVar("AETERM", "Reported Term for the Adverse Event"),
            SdtmVar("AELLT", "Lowest Level Term"),
            SdtmVar("AEDECOD", "Dictionary-Derived Term"),
            SdtmVar("AEBODSYS", "Body System or Organ Class"),
            SdtmVar("AESEV", "Severity/Intensity"),
            SdtmVar("AESER", "Serious Event"),
            SdtmVar("AEREL", "Causality"),
            SdtmVar("AEACN", "Action Taken with Study Treatment"),
            SdtmVar("AEOUT", "Outcome of Adverse Event"),
            SdtmVar("AESTDTC", "Start Date/Time of Adverse Event", "date"),
            SdtmVar("AEENDTC", "End Date/Time of Adverse Event", "date"),
        ),
        ae_rows,
    )

    cm_rows = [
        {
            "_subj": r["SUBJID"],
            "_order": _iso(r["STDAT"]),
            "CMTRT": r["NAME"],
            "CMCLAS": str(r["DRUGCLS"]).upper(),
            "CMDOSE": _num(r["DOSE"]),
            "CMDOSU": r["DOSEU"],
            "CMINDC": r["INDIC"],
            "CMSTDTC": _iso(r["STDAT"]),
            "CMENDTC": _iso(r["END_DATE"]),
        }
        for r in _records(tables, "cm")
    ]
    cm = _domain(
        "CM",
        "Concomitant Medications",
        "One record per recorded medication occurrence per subject",
        "INTERVENTIONS",
        (
            SdtmVar("CMSEQ", "Sequence Number", "integer"),
            SdtmVar("CMTRT", "Reported Name of Drug, Med, or Therapy"),
            SdtmVar("CMCLAS", "Medication Class"),
            SdtmVar("CMDOSE", "Dose per Administration", "float"),
            SdtmVar("CMDOSU", "Dose Units"),
            SdtmVar("CMINDC", "Indication"),
            SdtmVar("CMSTDTC", "Start Date/Time of Medication", "date"),
            SdtmVar("CMENDTC", "End Date/Time of Medication", "date"),
        ),
        cm_rows,
    )

    analytes = {a.code: a for a in cfg.labs}
    lb_rows = []
    for r in _records(tables, "lb"):
        a = analytes.get(r["ANALYTE"])
        lb_rows.append(
            {
                "_subj": r["SUBJID"],
                "_order": (r["WEEK"], r["ANALYTE"]),
                "LBTESTCD": str(r["ANALYTE"]).upper().replace("_", "")[:8],
                "LBTEST": a.label if a else r["ANALYTE"],
                "LBORRES": "" if _num(r["VALUE"]) is None else f"{_num(r['VALUE']):g}",
                "LBORRESU": r["UNIT"],
                "LBSTRESN": _num(r["VALUE"]),
                "LBSTRESU": r["UNIT"],
                "VISITNUM": r["WEEK"],
                "VISIT": visits[r["VISIT"]][1],
                "LBDTC": _iso(r["SAMPTIM"]),
            }
        )
    lb = _finding("LB", "Laboratory Test Results", "LABORATORY TEST", lb_rows)

    vs_tests = (
        ("WEIGHT", "Weight", "kg"),
        ("SYSBP", "Systolic Blood Pressure", "mmHg"),
        ("DIABP", "Diastolic Blood Pressure", "mmHg"),
        ("PULSE", "Pulse Rate", "beats/min"),
        ("TEMP", "Temperature", "C"),
    )
    vs_rows = []
    for r in _records(tables, "vs"):
        for testcd, test, unit in vs_tests:
            value = _num(r.get(testcd))
            if value is not None:
                vs_rows.append(
                    {
                        "_subj": r["SUBJID"],
                        "_order": (r["WEEK"], testcd),
                        "VSTESTCD": testcd,
                        "VSTEST": test,
                        "VSORRES": f"{value:g}",
                        "VSORRESU": unit,
                        "VSSTRESN": value,
                        "VSSTRESU": unit,
                        "VISITNUM": r["WEEK"],
                        "VISIT": visits[r["VISIT"]][1],
                        "VSDTC": _iso(r["VISDAT"]),
                    }
                )
    vs = _finding("VS", "Vital Signs", "VITAL SIGN", vs_rows)

    items = {f"ITEM_{i.number}": i for i in cfg.hamd_items}
    qs_rows = []
    for r in _records(tables, "hamd"):
        for name, item in items.items():
            qs_rows.append(
                _qs(
                    r,
                    visits,
                    "HAMD-17",
                    f"HAMD{item.number:02d}",
                    f"HAMD1-{item.name}"[:40],
                    r[name],
                    (r["WEEK"], item.number),
                )
            )
        qs_rows.append(_qs(r, visits, "HAMD-17", "HAMDTOT", "HAMD1-Total Score", r["TOTAL"], (r["WEEK"], 99)))
    for r in _records(tables, "cgis"):
        qs_rows.append(_qs(r, visits, "CGI", "CGI0101", "CGI01-Severity", r["SCORE"], (r["WEEK"], 100)))
    qs = _finding("QS", "Questionnaires", "QUESTIONNAIRE", qs_rows, with_cat=True)
    return [dm, ds, sv, ex, ae, cm, lb, vs, qs]


def _prepared_doses(tables: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(participant, visit) -> the dose in mg the pharmacy prepared for that infusion (trial.pharmacy
    Preparation, through the pharmacy dataset the exporting role may take): the bag dispensed, else
    the bag prepared; a wasted bag was never given."""
    rank = {"dispensed": 0, "prepared": 1}
    best: dict[tuple[str, str], tuple[int, float]] = {}
    for r in _records(tables, "pharm"):
        status, dose = str(r.get("STATUS") or ""), _num(r.get("DOSE"))
        if status not in rank or dose is None:
            continue
        key = (r["SUBJID"], r["VISIT"])
        if key not in best or rank[status] < best[key][0]:
            best[key] = (rank[status], dose)
    return {key: dose for key, (_rank, dose) in best.items()}


def _ex_dose(arm: Any, prepared_mg: float | None, infusion: dict[str, Any]) -> float | None:
    """EXDOSE of one infusion, in mg (SDTMIG 3.2 EX: the dose actually given).

    Masked (empty) without the arm. With it: 0 for an arm with no drug (a placebo bag is made up to
    the matched volume, and its preparation record names the dose it is matched to, not a dose
    given); else the dose the pharmacy prepared, which with several active doses (a 5 mg/kg arm made
    up to a 10 mg/kg bag's volume) differs from the infusion form's planned dose; with no preparation
    record, the arm's own dose for the infusion's weight (protocol: Design, study drug)."""
    if arm is None:
        return None
    if not arm.active or arm.dose_mg_per_kg <= 0:
        return 0.0
    if prepared_mg is not None:
        return prepared_mg
    weight = _num(infusion.get("WEIGHT"))
    return float(arm_dose_mg(arm, weight)) if weight is not None else None


# The AE variables coded against the AE dictionary (trial.safety.coding): in define.xml their origin
# is "Assigned" and they refer to the dictionary as an external code list (Define-XML 2.0, 4.4).
AE_CODED = ("AELLT", "AEDECOD", "AEBODSYS")
_CODED_STATES = {"auto", "manual"}


def _ae_coding(r: dict[str, Any]) -> dict[str, str]:
    """AELLT, AEDECOD (the preferred term) and AEBODSYS (the system organ class) of a coded event,
    from the coding the data manager sees on the AE coding page (SDTMIG 3.2 AE; MedDRA's LLT -> PT ->
    SOC). An event not yet coded leaves all three empty rather than guessing from the verbatim term:
    SDTMIG makes AEDECOD required, so such a transfer is not conformant until the event is coded."""
    coded = str(r.get("AECODST") or "") in _CODED_STATES and bool(r.get("AEDECOD"))
    if not coded:
        return dict.fromkeys(AE_CODED, "")
    return {name: str(r.get(name) or "") for name in AE_CODED}


def _qs(
    r: dict[str, Any], visits: dict[str, tuple[int, str]], cat: str, testcd: str, test: str, value: Any, order: Any
) -> dict[str, Any]:
    number = _num(value)
    return {
        "_subj": r["SUBJID"],
        "_order": order,
        "QSCAT": cat,
        "QSTESTCD": testcd,
        "QSTEST": test,
        "QSORRES": "" if number is None else f"{number:g}",
        "QSSTRESN": number,
        "VISITNUM": r["WEEK"],
        "VISIT": visits[r["VISIT"]][1],
        "QSDTC": _iso(r["VISDAT"]),
    }


def _finding(code: str, label: str, what: str, rows: list[dict[str, Any]], with_cat: bool = False) -> Domain:
    p = code
    vars_: list[SdtmVar] = [SdtmVar(f"{p}SEQ", "Sequence Number", "integer")]
    if with_cat:
        vars_.append(SdtmVar(f"{p}CAT", "Category of Question"))
    vars_ += [
        SdtmVar(f"{p}TESTCD", f"{what.title()} Short Name"[:40]),
        SdtmVar(f"{p}TEST", f"{what.title()} Name"[:40]),
        SdtmVar(f"{p}ORRES", "Result or Finding in Original Units"),
    ]
    if code != "QS":
        vars_.append(SdtmVar(f"{p}ORRESU", "Original Units"))
    vars_.append(SdtmVar(f"{p}STRESN", "Numeric Result/Finding in Standard Units", "float"))
    if code != "QS":
        vars_.append(SdtmVar(f"{p}STRESU", "Standard Units"))
    vars_ += [
        SdtmVar("VISITNUM", "Visit Number", "float"),
        SdtmVar("VISIT", "Visit Name"),
        SdtmVar(
            f"{p}DTC",
            f"Date/Time of {'Specimen Collection' if code == 'LB' else 'Measurements'}",
            "datetime" if code == "LB" else "date",
        ),
    ]
    return _domain(code, label, f"One record per {what.lower()} per visit per subject", "FINDINGS", tuple(vars_), rows)


def write_sdtm(domains: list[Domain]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for d in domains:
            path = Path(tmp) / f"{d.code.lower()}.xpt"
            labels: dict[str, str | None] = {v.name: v.label for v in d.variables}
            pyreadstat.write_xport(
                d.frame, str(path), file_label=d.label, column_labels=labels, table_name=d.code, file_format_version=5
            )
            files[path.name] = path.read_bytes()
    files["define.xml"] = define_xml(domains)
    return files


# The coded AE terms come from the trial's own MedDRA-shaped dictionary (trial/safety/ae_dictionary.csv),
# not from licensed MedDRA: define.xml names it and gives the digest of the file as its version.
AE_DICTIONARY_NAME = "Stratum AE dictionary (MedDRA-shaped LLT/PT/SOC)"


def ae_dictionary_version() -> str:
    return "sha256:" + hashlib.sha256(DICTIONARY_FILE.read_bytes()).hexdigest()[:16]


ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.0"
XLINK = "http://www.w3.org/1999/xlink"


def define_xml(domains: list[Domain], now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> bytes:
    """Define-XML 2.0 metadata of the SDTM datasets (validated against its XSD in the tests)."""
    cfg = protocol()
    created = now().strftime("%Y-%m-%dT%H:%M:%S")

    def e(parent: Any, tag: str, text: str | None = None, ns: str = ODM, **attrs: Any) -> Any:
        el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: str(v) for k, v in attrs.items()})
        if text is not None:
            el.text = text
        return el

    def described(parent: Any, text: str) -> None:
        e(e(parent, "Description"), "TranslatedText", text, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})

    root = etree.Element(
        f"{{{ODM}}}ODM",
        nsmap={None: ODM, "def": DEF, "xlink": XLINK},
        FileType="Snapshot",
        FileOID=f"DEFINE.{cfg.code}.SDTM",
        CreationDateTime=created,
        ODMVersion="1.3.2",
        Originator="Stratum",
        SourceSystem="Stratum",
    )
    study = e(root, "Study", OID=f"ST.{cfg.code}")
    gv = e(study, "GlobalVariables")
    e(gv, "StudyName", cfg.code)
    e(gv, "StudyDescription", cfg.title)
    e(gv, "ProtocolName", cfg.registration)
    mdv = e(
        study,
        "MetaDataVersion",
        OID="MDV.SDTM",
        Name="SDTM-lite",
        Description="Stratum SDTM-lite transfer",
        **{f"{{{DEF}}}DefineVersion": "2.0.0", f"{{{DEF}}}StandardName": "SDTM-IG", f"{{{DEF}}}StandardVersion": "3.2"},
    )
    for d in domains:
        igd = e(
            mdv,
            "ItemGroupDef",
            OID=f"IG.{d.code}",
            Name=d.code,
            Repeating="No" if d.code == "DM" else "Yes",
            IsReferenceData="No",
            SASDatasetName=d.code,
            Domain=d.code,
            Purpose="Tabulation",
            **{
                f"{{{DEF}}}Structure": d.structure,
                f"{{{DEF}}}Class": d.sdtm_class,
                f"{{{DEF}}}ArchiveLocationID": f"LF.{d.code}",
            },
        )
        described(igd, d.label)
        for order, v in enumerate(d.variables, start=1):
            key = {"STUDYID": 1, "USUBJID": 2}.get(v.name)
            attrs: dict[str, Any] = {
                "ItemOID": f"IT.{d.code}.{v.name}",
                "OrderNumber": order,
                "Mandatory": "Yes" if v.name in {"STUDYID", "DOMAIN", "USUBJID"} else "No",
            }
            if key:
                attrs["KeySequence"] = key
            e(igd, "ItemRef", **attrs)
        leaf = e(igd, "leaf", ns=DEF, ID=f"LF.{d.code}", **{f"{{{XLINK}}}href": f"{d.code.lower()}.xpt"})
        e(leaf, "title", f"{d.code.lower()}.xpt", ns=DEF)
    for d in domains:
        for v in d.variables:
            length = None
            if v.type == "text":
                longest = d.frame[v.name].astype(str).str.len().max() if len(d.frame) else 1
                length = max(1, int(longest or 1))
            attrs = {"OID": f"IT.{d.code}.{v.name}", "Name": v.name, "DataType": v.type, "SASFieldName": v.name}
            if length:
                attrs["Length"] = length
            item = e(mdv, "ItemDef", **attrs)
            described(item, v.label)
            coded = d.code == "AE" and v.name in AE_CODED
            if coded:
                e(item, "CodeListRef", CodeListOID=f"CL.AEDICT.{v.name}")
            assigned = coded or v.name in {"STUDYID", "DOMAIN", "USUBJID"}
            e(item, "Origin", ns=DEF, Type="Assigned" if assigned else "CRF")
    if any(d.code == "AE" for d in domains):
        version = ae_dictionary_version()
        for name in AE_CODED:
            cl = e(mdv, "CodeList", OID=f"CL.AEDICT.{name}", Name=f"AE dictionary ({name})", DataType="text")
            e(cl, "ExternalCodeList", Dictionary=AE_DICTIONARY_NAME, Version=version)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
