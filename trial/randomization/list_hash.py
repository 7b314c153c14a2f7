"""The SHA-256 of a stored randomization list, computed by the database in one statement.

Every allocation checks the active list against the SHA-256 recorded when it was made (21 CFR
11.10(a): the record can be shown not to have changed; ICH E9 2.3.3). Loading every entry into
Python for that grows with the list; here the database hashes the rows where they are and returns
one value. The canonical form is `generation.list_digest`'s, so the two always agree:
PostgreSQL concatenates the rows in (stratum, sequence) order ("C" collation: code-point order,
Python's `sorted`) and hashes them with its own sha256(); SQLite has no hash function, so a small
aggregate (registered on each new connection, `trial.randomization.apps`) feeds the rows it is
given to `list_digest` itself.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from trial.randomization.generation import list_digest

SQLITE_FUNCTION = "stratum_list_sha256"
_COLUMNS = "stratum, sequence, block_number, block_size, arm, randomization_number"


class _SQLiteListDigest:
    """sqlite3 aggregate: the rows in any order, the digest of the sorted rows (list_digest sorts)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def step(self, *row: Any) -> None:
        self.rows.append(row)  # six columns, as _COLUMNS names them

    def finalize(self) -> str:
        return list_digest(self.rows)


def sqlite_functions_register(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created hook: give each new SQLite connection the list-digest aggregate."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_FUNCTION, 6, _SQLiteListDigest)


def stored_list_sha256(randomization_list_id: int) -> str:
    """The SHA-256 of the list's entries as stored now: one statement, one value back."""
    from trial.randomization.models import ListEntry

    table = connection.ops.quote_name(ListEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            line = " || '|' || ".join(_COLUMNS.split(", "))
            cursor.execute(
                "SELECT encode(sha256(convert_to(coalesce(string_agg("  # noqa: S608  (the model's table and columns; the id is a parameter)
                f"{line} || %s, '' ORDER BY stratum COLLATE \"C\", sequence), ''), 'UTF8')), 'hex') "
                f"FROM {table} WHERE randomization_list_id = %s",
                ["\n", randomization_list_id],
            )
            return str(cursor.fetchone()[0])
        if connection.vendor == "sqlite":
            cursor.execute(
                f"SELECT {SQLITE_FUNCTION}({_COLUMNS}) FROM {table} WHERE randomization_list_id = %s",  # noqa: S608  (as above)
                [randomization_list_id],
            )
            return str(cursor.fetchone()[0])
    rows = (
        ListEntry.objects.filter(randomization_list_id=randomization_list_id)
        .order_by()
        .values_list(*_COLUMNS.split(", "))
    )
    return list_digest(rows)
