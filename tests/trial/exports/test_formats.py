"""Every format read back by an independent reader (pyreadstat, openpyxl, lxml + the official ODM XSD)
with its labels intact, and its values compared with the database, not with our own writer."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from trial.exports.dictionary import DATASETS_BY_CODE, variables

CDISC = Path(__file__).resolve().parents[2] / "data" / "cdisc"
ODM_XSD = CDISC / "odm" / "1.3.2" / "ODM1-3-2.xsd"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


def _read(reader: Any, content: bytes, suffix: str, tmp_path: Path) -> tuple[pd.DataFrame, Any]:
    path = tmp_path / f"f{suffix}"
    path.write_bytes(content)
    return reader(str(path))


def _hamd_totals_in_db() -> dict[tuple[str, int], int]:
    from trial.visits.models import HamD17

    return {
        (h.visit.participant.participant_id, h.visit.definition.week): h.total
        for h in HamD17.objects.active().select_related("visit__participant", "visit__definition")
    }


def odm_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(ODM_XSD), parser))


@pytest.mark.django_db
def test_every_format_reads_back_with_its_labels_and_the_databases_values(trial_world, bundle_files, tmp_path):
    totals = _hamd_totals_in_db()
    assert totals, "the world has HAM-D ratings"

    # SAS XPORT v5: variable labels and the member name; HAM-D totals equal the database's.
    xpt = bundle_files("unblinded", "xpt", include_arm=True)
    for code in ("dm", "hamd", "lb", "ae", "pharm"):
        _df, meta = _read(pyreadstat.read_xport, xpt[f"{code}.xpt"], ".xpt", tmp_path)
        assert meta.table_name == code.upper()
        expected = {v.name: v.label for v in variables(code)}
        assert {k: v for k, v in meta.column_names_to_labels.items() if k in expected} == expected
    hamd, _ = _read(pyreadstat.read_xport, xpt["hamd.xpt"], ".xpt", tmp_path)
    assert {(r.SUBJID, int(r.WEEK)): int(r.TOTAL) for r in hamd.itertuples()} == totals
    assert "proc format;" in xpt["formats.sas"].decode()

    # SPSS: variable labels and value labels, text codes (sex) included.
    sav = bundle_files("unblinded", "sav", datasets=["dm", "cgis", "scr"])
    _dm, meta = _read(pyreadstat.read_sav, sav["dm.sav"], ".sav", tmp_path)
    assert meta.column_names_to_labels["SEX"] == variables("dm")[2].label
    assert meta.variable_value_labels["SEX"] == {"F": "Female", "M": "Male"}
    _cgis, meta = _read(pyreadstat.read_sav, sav["cgis.sav"], ".sav", tmp_path)
    assert meta.variable_value_labels["SCORE"][4.0] == "Moderately ill"
    _scr, meta = _read(pyreadstat.read_sav, sav["scr.sav"], ".sav", tmp_path)
    assert meta.variable_value_labels["ELIGIBLE"] == {0.0: "No", 1.0: "Yes"}
    assert meta.column_names_to_labels["INAGE"] == "Age 25 to 60 years"  # the protocol's criterion text

    # Stata: variable labels and numeric value labels.
    dta = bundle_files("unblinded", "dta", datasets=["cgis", "hamd"])
    _cgis, meta = _read(pyreadstat.read_dta, dta["cgis.dta"], ".dta", tmp_path)
    assert meta.column_names_to_labels["SCORE"] == "CGI-S"
    assert meta.variable_value_labels["SCORE"][7] == "Among the most extremely ill"
    hamd, meta = _read(pyreadstat.read_dta, dta["hamd.dta"], ".dta", tmp_path)
    assert meta.column_names_to_labels["ITEM_3"] == "HAM-D 3 Suicide"
    assert {(r.SUBJID, int(r.WEEK)): int(r.TOTAL) for r in hamd.itertuples()} == totals

    # XLSX: a codebook sheet and one sheet per dataset.
    xlsx = bundle_files("unblinded", "xlsx", datasets=["dm", "hamd", "lb"])
    book = openpyxl.load_workbook(io.BytesIO(xlsx["datasets.xlsx"]), read_only=True)
    assert book.sheetnames == ["codebook", "dm", "hamd", "lb"]
    header = [c.value for c in next(book["codebook"].iter_rows(max_row=1))]
    assert header == ["dataset", "dataset_label", "name", "label", "type", "units", "value_labels"]
    names = {row[2] for row in book["codebook"].iter_rows(min_row=2, values_only=True)}
    assert {"TOTAL", "ITEM_17", "REP1", "REP2"} <= names

    # R: the CSVs and a script that labels every variable and makes factors of coded ones.
    r = bundle_files("statistician", "r", datasets=["dm", "cgis"])
    script = r["labels.R"].decode()
    assert 'dm <- read_stratum("dm.csv")' in script
    assert 'dm$SEX <- factor(dm$SEX, levels = c("F", "M"), labels = c("Female", "Male"))' in script
    assert 'attr(cgis$SCORE, "label") <- "CGI-S"' in script
    cgis_csv = pd.read_csv(io.BytesIO(r["cgis.csv"]))
    assert len(cgis_csv) == len(totals)

    # The manifest holds the SHA-256 of every file in the bundle.
    manifest = json.loads(r["manifest.json"])
    assert manifest["made_by"] == "statistician" and manifest["blinded"] is True
    for f in manifest["files"]:
        assert hashlib.sha256(r[f["name"]]).hexdigest() == f["sha256"]

    # CDISC ODM 1.3.2: valid against the official XSD, and its values round-trip to the database.
    odm = bundle_files("datamanager", "odm")
    doc = etree.fromstring(odm["odm.xml"])
    schema = odm_schema()
    assert schema.validate(doc), schema.error_log
    got = {}
    for subject in doc.iterfind(".//odm:SubjectData", NS):
        for event in subject.iterfind("odm:StudyEventData", NS):
            for item in event.iterfind("odm:FormData[@FormOID='F.HAMD']/odm:ItemGroupData/odm:ItemData", NS):
                if item.get("ItemOID") == "IT.HAMD.TOTAL":
                    week = next(w for c, w in _visit_weeks().items() if event.get("StudyEventOID") == f"SE.{c}")
                    got[(subject.get("SubjectKey"), week)] = int(item.get("Value"))
    assert got == totals
    assert doc.find(".//odm:ItemGroupData/odm:AuditRecord/odm:DateTimeStamp", NS) is not None
    assert doc.find(".//odm:CodeList[@OID='CL.CGIS.SCORE']", NS) is not None


def _visit_weeks() -> dict[str, int]:
    from trial.protocol.selectors import protocol

    return {v.code: v.week for v in protocol().visits}


def test_odm_with_a_signed_casebook_validates_and_carries_the_signature(randomized, users, bundle_files):
    from django.utils import timezone

    from trial.closeout.models import Signature

    # A signature row as the close-out service stores it (the signing flow itself is close-out's test).
    Signature.objects.create(
        participant=randomized,
        signer=users["investigator"],
        printed_name="I. Investigator",
        meaning="I have reviewed and approve these data",
        signed_at=timezone.now(),
        content_sha256="0" * 64,
    )
    doc = etree.fromstring(bundle_files("datamanager", "odm")["odm.xml"])
    assert odm_schema().validate(doc), odm_schema().error_log
    sig = doc.find(f".//odm:SubjectData[@SubjectKey='{randomized.participant_id}']/odm:Signature", NS)
    assert sig is not None
    assert sig.find("odm:UserRef", NS).get("UserOID") == "USR.investigator"


def test_every_dataset_has_sas_names_and_labels():
    """SAS XPORT v5 and SDTMIG: names at most 8 characters (letters, digits, _), labels at most 40, unique."""
    import re

    for code in DATASETS_BY_CODE:
        assert len(code) <= 8
        vs = variables(code)
        names = [v.name for v in vs]
        assert len(names) == len(set(names)), code
        for v in vs:
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]{0,7}", v.name), (code, v.name)
            assert 0 < len(v.label) <= 40, (code, v.name, v.label)


DEFINE_XSD = CDISC / "define" / "2.0" / "define2-0-0.xsd"
SDTM_DOMAINS = ["ae", "cm", "dm", "ds", "ex", "lb", "qs", "sv", "vs"]
ISO_DATE = r"^(\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?)?$"


@pytest.mark.django_db
def test_sdtm_domains_follow_sdtmig_names_labels_dates_and_define_xml_validates(
    baseline_visit, users, bundle_files, tmp_path
):
    import re

    from trial.visits.services import hamd_record

    hamd_record(visit=baseline_visit, items=dict.fromkeys(range(1, 18), 2), by=users["rater"])
    files = bundle_files("statistician", "sdtm")
    assert sorted(n[:-4] for n in files if n.endswith(".xpt")) == SDTM_DOMAINS
    for domain in SDTM_DOMAINS:
        df, meta = _read(pyreadstat.read_xport, files[f"{domain}.xpt"], ".xpt", tmp_path)
        assert meta.table_name == domain.upper()
        for name, label in meta.column_names_to_labels.items():
            assert re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", name) and label and len(label) <= 40, (domain, name, label)
        assert list(df.columns[:3]) == ["STUDYID", "DOMAIN", "USUBJID"]
        for column in (c for c in df.columns if c.endswith("DTC")):
            assert all(re.match(ISO_DATE, str(v)) for v in df[column]), (domain, column)
        seq = f"{domain.upper()}SEQ"
        if seq in df.columns and len(df):
            # --SEQ numbers each subject's records from 1 (SDTMIG 4.1.2.9)
            for _subject, group in df.groupby("USUBJID"):
                assert sorted(group[seq].astype(int)) == list(range(1, len(group) + 1))
    dm, _ = _read(pyreadstat.read_xport, files["dm.xpt"], ".xpt", tmp_path)
    assert set(dm["ARMCD"]) == {"BLINDED"} and set(dm["ACTARM"]) == {"BLINDED"}
    ex, _ = _read(pyreadstat.read_xport, files["ex.xpt"], ".xpt", tmp_path)
    assert set(ex["EXTRT"]) <= {"BLINDED"}
    qs, _ = _read(pyreadstat.read_xport, files["qs.xpt"], ".xpt", tmp_path)
    total = qs[(qs.QSTESTCD == "HAMDTOT")]
    assert list(total.QSSTRESN) == [34.0]  # 17 items x 2, as rated
    assert all(len(c) <= 8 for c in qs.QSTESTCD)

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    define_schema = etree.XMLSchema(etree.parse(str(DEFINE_XSD), parser))
    define = etree.fromstring(files["define.xml"])
    assert define_schema.validate(define), define_schema.error_log

    unblinded = bundle_files("unblinded", "sdtm", include_arm=True)
    dm, _ = _read(pyreadstat.read_xport, unblinded["dm.xpt"], ".xpt", tmp_path)
    assert set(dm["ARMCD"]) == {baseline_visit.participant.allocation.entry.arm}


def test_xlsx_continues_a_dataset_past_the_sheet_limit_on_further_sheets(trial_world, bundle_files, monkeypatch):
    """Excel's 1,048,576-row sheet would cut a large trial's audit trail; the rows go on in hamd_2,
    hamd_3, ... with the header repeated, and together they are the CSV's rows, in its order."""
    from trial.exports import formats

    monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 2)
    csv = pd.read_csv(io.BytesIO(bundle_files("unblinded", "csv", datasets=["hamd"])["hamd.csv"]))
    assert len(csv) > 4
    book = openpyxl.load_workbook(
        io.BytesIO(bundle_files("unblinded", "xlsx", datasets=["hamd"])["datasets.xlsx"]), read_only=True
    )
    parts = [name for name in book.sheetnames if name.startswith("hamd")]
    assert parts == ["hamd"] + [f"hamd_{i}" for i in range(2, len(parts) + 1)]
    assert len(parts) == -(-len(csv) // 2)
    rows: list[tuple[Any, ...]] = []
    for name in parts:
        header, *body = book[name].iter_rows(values_only=True)
        assert list(header) == list(csv.columns)
        rows += body
    assert [(r[csv.columns.get_loc("SUBJID")], r[csv.columns.get_loc("TOTAL")]) for r in rows] == list(
        zip(csv["SUBJID"], csv["TOTAL"], strict=True)
    )
    # Empty cells stay empty, not the text "nan".
    assert all("nan" not in {str(v) for v in r} for r in rows)
