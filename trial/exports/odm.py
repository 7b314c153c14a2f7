"""CDISC ODM 1.3.2: study metadata from the data dictionary and clinical data from the same Tables.

Metadata: one StudyEventDef per protocol visit plus one "Participant" event for the forms that
belong to no visit; one FormDef and ItemGroupDef per dataset; an ItemDef per variable with its
MeasurementUnit and CodeList. Clinical data: SubjectData / StudyEventData / FormData / ItemGroupData
(repeat key = record id) / ItemData, each ItemGroupData with the AuditRecord of its latest saved
version (who, when, why: 21 CFR 11.10(e)), and each subject with its casebook Signature (11.50).
Written with lxml and validated against the official XSD in the tests.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from lxml import etree

from trial.exports.dictionary import CHAR, DATE, DATETIME, NUM, Variable

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
PARTICIPANT_EVENT = "SE.PARTICIPANT"
LOCATION_OID = "LOC.SITE"
SIGNATURE_DEF_OID = "SD.CASEBOOK"
# Datasets that are records of the CRFs; the others (audit trail, query history, locks, analysis
# dataset) are exported beside the ODM file, and the audit trail and signatures are inside it.
ODM_DATASETS = ("dm", "scr", "ic", "sv", "hamd", "cgis", "lb", "vs", "ex", "ae", "cm", "dv", "eos", "dq", "pharm")
_KEYS = frozenset({"SUBJID", "VISIT", "WEEK", "VISDAT", "RECID", "VERSION"})


@dataclass
class OdmContext:
    study_oid: str
    study_name: str
    description: str
    protocol_name: str
    visits: list[tuple[str, str]]  # (code, name) in schedule order
    site_name: str
    created_at: datetime
    # (dataset code, record id) -> (user name, UTC time, reason) of the record's latest saved version
    audit: dict[tuple[str, int], tuple[str, datetime, str]] = field(default_factory=dict)
    # participant id -> (user name, UTC time, meaning) of the casebook's valid signature
    signatures: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)


def odm_value(v: Variable, value: Any) -> str | None:
    """A cell as ODM writes it (also what the round-trip test compares)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if v.type == NUM:
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if v.type == DATETIME:
        return _dt(pd.Timestamp(value).to_pydatetime())
    if v.type == DATE and isinstance(value, date):
        return value.isoformat()
    return str(value)


def _dt(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _e(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    el = etree.SubElement(parent, f"{{{ODM_NS}}}{tag}", {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _translated(parent: Any, tag: str, text: str) -> None:
    _e(_e(parent, tag), "TranslatedText", text, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})


def _data_type(v: Variable) -> str:
    return {NUM: "float", DATE: "date", DATETIME: "datetime"}.get(v.type, "text")


def _oid(*parts: str) -> str:
    return ".".join(p.upper().replace(" ", "_") for p in parts)


def _unit_oid(unit: str) -> str:
    return "MU." + "".join(c if c.isalnum() else "_" for c in unit)


def _is_visit_table(t: Any) -> bool:
    return "VISIT" in {v.name for v in t.variables}


def odm_document(tables: list[Any], *, context: OdmContext) -> bytes:
    tables = [t for t in tables if t.code in ODM_DATASETS]
    root = etree.Element(
        f"{{{ODM_NS}}}ODM",
        nsmap={None: ODM_NS},
        FileType="Snapshot",
        Granularity="All",
        FileOID=f"STRATUM.{context.study_oid}.{context.created_at.strftime('%Y%m%dT%H%M%S')}",
        CreationDateTime=_dt(context.created_at),
        AsOfDateTime=_dt(context.created_at),
        ODMVersion="1.3.2",
        Originator="Stratum",
        SourceSystem="Stratum",
    )
    study = _e(root, "Study", OID=context.study_oid)
    gv = _e(study, "GlobalVariables")
    _e(gv, "StudyName", context.study_name)
    _e(gv, "StudyDescription", context.description)
    _e(gv, "ProtocolName", context.protocol_name)
    units = sorted({v.units for t in tables for v in t.variables if v.units and v.name not in _KEYS})
    if units:
        basic = _e(study, "BasicDefinitions")
        for unit in units:
            mu = _e(basic, "MeasurementUnit", OID=_unit_oid(unit), Name=unit)
            _translated(mu, "Symbol", unit)
    mdv = _e(study, "MetaDataVersion", OID="MDV.1", Name="Stratum data dictionary")
    proto = _e(mdv, "Protocol")
    events = [*((_oid("SE", code), name) for code, name in context.visits), (PARTICIPANT_EVENT, "Participant")]
    for order, (oid, _name) in enumerate(events, start=1):
        _e(proto, "StudyEventRef", StudyEventOID=oid, OrderNumber=order, Mandatory="No")
    visit_forms = [t for t in tables if _is_visit_table(t)]
    other_forms = [t for t in tables if not _is_visit_table(t)]
    for oid, name in events:
        sed = _e(
            mdv,
            "StudyEventDef",
            OID=oid,
            Name=name,
            Repeating="No",
            Type="Scheduled" if oid != PARTICIPANT_EVENT else "Common",
        )
        for t in visit_forms if oid != PARTICIPANT_EVENT else other_forms:
            _e(sed, "FormRef", FormOID=_oid("F", t.code), Mandatory="No")
    for t in tables:
        fd = _e(mdv, "FormDef", OID=_oid("F", t.code), Name=t.label, Repeating="No")
        _e(fd, "ItemGroupRef", ItemGroupOID=_oid("IG", t.code), Mandatory="Yes")
    for t in tables:
        igd = _e(
            mdv, "ItemGroupDef", OID=_oid("IG", t.code), Name=t.label, Repeating="Yes", SASDatasetName=t.code.upper()
        )
        _translated(igd, "Description", t.label)
        for v in _items(t):
            _e(igd, "ItemRef", ItemOID=_oid("IT", t.code, v.name), Mandatory="No")
    codelists: list[tuple[str, Variable]] = []
    for t in tables:
        for v in _items(t):
            item = _e(
                mdv, "ItemDef", OID=_oid("IT", t.code, v.name), Name=v.name, DataType=_data_type(v), SASFieldName=v.name
            )
            _translated(item, "Description", v.label)
            if v.units:
                _e(item, "MeasurementUnitRef", MeasurementUnitOID=_unit_oid(v.units))
            if v.value_labels:
                cl_oid = _oid("CL", t.code, v.name)
                _e(item, "CodeListRef", CodeListOID=cl_oid)
                codelists.append((cl_oid, v))
    for cl_oid, v in codelists:
        cl = _e(mdv, "CodeList", OID=cl_oid, Name=v.label, DataType="text" if v.type == CHAR else "float")
        for code, text in v.value_labels:
            cli = _e(cl, "CodeListItem", CodedValue=str(code))
            _translated(cli, "Decode", text)

    users = sorted({a[0] for a in context.audit.values()} | {s[0] for s in context.signatures.values()} | {"system"})
    admin = _e(root, "AdminData", StudyOID=context.study_oid)
    for name in users:
        u = _e(admin, "User", OID=_user_oid(name))
        _e(u, "LoginName", name)
    loc = _e(admin, "Location", OID=LOCATION_OID, Name=context.site_name, LocationType="Site")
    _e(
        loc,
        "MetaDataVersionRef",
        StudyOID=context.study_oid,
        MetaDataVersionOID="MDV.1",
        EffectiveDate=context.created_at.date().isoformat(),
    )
    sd = _e(admin, "SignatureDef", OID=SIGNATURE_DEF_OID, Methodology="Electronic")
    _e(sd, "Meaning", "I have reviewed and approve these data")
    _e(sd, "LegalReason", "21 CFR Part 11 electronic signature of the investigator on the casebook")

    clinical = _e(root, "ClinicalData", StudyOID=context.study_oid, MetaDataVersionOID="MDV.1")
    _clinical_data(clinical, tables, context)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _user_oid(name: str) -> str:
    return "USR." + "".join(c if c.isalnum() else "_" for c in name)


def _items(t: Any) -> list[Variable]:
    return [v for v in t.variables if v.name not in {"SUBJID", "VISIT"}]


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(float(value))


def _clinical_data(clinical: Any, tables: list[Any], context: OdmContext) -> None:
    # subject -> event oid -> [(table, row)]
    by_subject: dict[str, dict[str, list[tuple[Any, dict[str, Any]]]]] = {}
    for t in tables:
        for row in t.frame.to_dict("records"):
            subject = str(row.get("SUBJID") or "")
            if not subject:
                continue
            event = _oid("SE", str(row["VISIT"])) if _is_visit_table(t) else PARTICIPANT_EVENT
            by_subject.setdefault(subject, {}).setdefault(event, []).append((t, row))
    event_order = [_oid("SE", code) for code, _ in context.visits] + [PARTICIPANT_EVENT]
    for subject in sorted(by_subject):
        sd = _e(clinical, "SubjectData", SubjectKey=subject)
        if subject in context.signatures:
            who, at, _meaning = context.signatures[subject]
            sig = _e(sd, "Signature")
            _e(sig, "UserRef", UserOID=_user_oid(who))
            _e(sig, "LocationRef", LocationOID=LOCATION_OID)
            _e(sig, "SignatureRef", SignatureOID=SIGNATURE_DEF_OID)
            _e(sig, "DateTimeStamp", _dt(at))
        events = by_subject[subject]
        for event in sorted(events, key=lambda e: event_order.index(e) if e in event_order else len(event_order)):
            sed = _e(sd, "StudyEventData", StudyEventOID=event)
            forms: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
            for t, row in events[event]:
                forms.setdefault(t.code, []).append((t, row))
            for code, rows in forms.items():
                fd = _e(sed, "FormData", FormOID=_oid("F", code))
                for n, (t, row) in enumerate(rows, start=1):
                    recid = row.get("RECID")
                    # RECID is int64 when every row has one and float64 when some do not (which depends
                    # on the rows, not on the database), so test for a number, not for a float.
                    key = int(float(recid)) if recid is not None and _is_number(recid) else n
                    igd = _e(fd, "ItemGroupData", ItemGroupOID=_oid("IG", code), ItemGroupRepeatKey=key)
                    audit = context.audit.get((code, key))
                    if audit is not None:
                        ar = _e(igd, "AuditRecord")
                        _e(ar, "UserRef", UserOID=_user_oid(audit[0] or "system"))
                        _e(ar, "LocationRef", LocationOID=LOCATION_OID)
                        _e(ar, "DateTimeStamp", _dt(audit[1]))
                        if audit[2]:
                            _e(ar, "ReasonForChange", audit[2])
                    for v in _items(t):
                        value = odm_value(v, row.get(v.name))
                        if value is not None:
                            _e(igd, "ItemData", ItemOID=_oid("IT", code, v.name), Value=value)
