"""Reads keyed by every record of a dataset are sent in batches: a 10,000-participant trial has more
records than SQLite accepts bound values in one statement (32,766), and its ODM export failed there."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from django.db import connection

from trial.core.batches import in_batches
from trial.exports.datasets import Table
from trial.exports.dictionary import CHAR, NUM, Variable
from trial.exports.services import _odm_context

pytestmark = pytest.mark.django_db


def _bind_limit() -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return 65_535


def test_in_batches_keeps_every_value_in_order() -> None:
    assert list(in_batches(range(7), size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(in_batches([], size=3)) == []


def test_the_odm_audit_context_reads_more_records_than_one_statement_may_bind(
    users: dict[str, Any], randomized: Any
) -> None:
    from trial.safety.services import adverse_event_record

    event = adverse_event_record(
        participant=randomized,
        data={
            "term": "Headache",
            "onset_date": date.today(),
            "ongoing": True,
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
        by=users["coordinator"],
    )
    real = event.pk
    # More record ids than one statement may bind (one of them real): SQLite's limit as this build
    # sets it, and PostgreSQL's protocol, 65,535.
    ids = [real, *range(10_000_000, 10_000_000 + _bind_limit() + 1)]
    frame = pd.DataFrame({"SUBJID": ["P"] * len(ids), "RECID": ids, "AETERM": ["x"] * len(ids)})
    variables = (Variable("SUBJID", "Participant", CHAR), Variable("RECID", "Record id", NUM))
    table = Table("ae", "Adverse events", variables, frame)
    context = _odm_context(users["unblinded"], [table], datetime.now(UTC))
    assert set(context.audit) == {("ae", real)}
    assert context.audit[("ae", real)][0] == users["coordinator"].get_username()
