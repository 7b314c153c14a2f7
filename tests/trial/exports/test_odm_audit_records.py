"""The ODM export puts each record's audit record beside it whatever pandas made of the record id
column: int64 when every row has one, float64 when a row lacks one (21 CFR 11.10(e): the audit trail
travels with the data it describes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from lxml import etree

from trial.exports.datasets import Table
from trial.exports.dictionary import CHAR, NUM, Variable
from trial.exports.odm import ODM_NS, OdmContext, odm_document

NS = {"odm": ODM_NS}
VARIABLES = (
    Variable("SUBJID", "Participant", CHAR),
    Variable("RECID", "Record id", NUM),
    Variable("AETERM", "Adverse event", CHAR),
)
SAVED = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


def _document(record_ids: list[float | int | None]) -> etree._Element:
    frame = pd.DataFrame(
        {"SUBJID": ["P-001"] * len(record_ids), "RECID": record_ids, "AETERM": ["Headache"] * len(record_ids)}
    )
    context = OdmContext(
        study_oid="ST.X",
        study_name="X",
        description="X",
        protocol_name="X",
        visits=[],
        site_name="Site",
        created_at=SAVED,
        audit={("ae", 7): ("coordinator", SAVED, "typo"), ("ae", 9): ("rater", SAVED, "")},
    )
    return etree.fromstring(odm_document([Table("ae", "Adverse events", VARIABLES, frame)], context=context))


@pytest.mark.parametrize(
    "record_ids",
    [pytest.param([7, 9], id="int64"), pytest.param([7.0, 9.0], id="float64"), pytest.param([7, 9, None], id="gap")],
)
def test_each_record_carries_its_own_audit_record(record_ids: list[float | int | None]) -> None:
    doc = _document(record_ids)
    groups = doc.findall(".//odm:ItemGroupData", NS)
    assert [g.get("ItemGroupRepeatKey") for g in groups][:2] == ["7", "9"]
    first, second = (g.find("odm:AuditRecord", NS) for g in groups[:2])
    assert first is not None and second is not None
    assert first.find("odm:UserRef", NS).get("UserOID") != second.find("odm:UserRef", NS).get("UserOID")
    assert first.findtext("odm:ReasonForChange", namespaces=NS) == "typo"
    assert first.findtext("odm:DateTimeStamp", namespaces=NS).startswith("2026-03-04T10:30")
    # A row with no record id is numbered by its place and claims no one's audit record.
    if len(groups) == 3:
        assert groups[2].find("odm:AuditRecord", NS) is None
