"""The SHA-256 of a stored randomization list, computed by the database in one statement.

Every allocation checks the active list against the SHA-256 recorded when it was made (21 CFR
11.10(a): the record can be shown not to have changed; ICH E9 2.3.3). Loading every entry into
Python as model rows for that grows with the list; here the database does the work per row. The
canonical form is `generation.list_digest`'s, so the two always agree: PostgreSQL concatenates the
rows in (stratum, sequence) order ("C" collation: code-point order, Python's `sorted`) and hashes
them with its own sha256(), one value back; SQLite, which has no hash function, returns each row's
canonical line in that order and Python hashes the text once.
"""

from __future__ import annotations

import hashlib

from django.db import connection

from trial.randomization.generation import list_digest

_COLUMNS = "stratum, sequence, block_number, block_size, arm, randomization_number"


def stored_list_matches(randomization_list_id: int, expected: str) -> bool:
    """Whether the list's entries as stored now hash to `expected` (the SHA-256 recorded when it was made).

    On SQLite the database first hands back every canonical line in one text (group_concat over the
    lines in list order), which costs a third less than a row per entry; but SQLite does not promise
    that group_concat keeps the order of its input. That does not weaken the check: a line holds every
    column of its entry, so the stored lines hash to `expected`, in whatever order they came, only if
    they are the lines the list was made with, in the order it was hashed in. A mismatch, which a
    reordering alone could also cause, is decided by the canonical, ordered hash (`stored_list_sha256`)."""
    fast = connection.vendor == "sqlite"
    if fast and hashlib.sha256(_lines_any_order(randomization_list_id).encode()).hexdigest() == expected:
        return True
    return stored_list_sha256(randomization_list_id) == expected


def _lines_any_order(randomization_list_id: int) -> str:
    """SQLite: the list's canonical lines in one text, in the order group_concat happens to keep."""
    from trial.randomization.models import ListEntry

    table = connection.ops.quote_name(ListEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT group_concat(line, '') FROM (SELECT printf('%%s|%%d|%%d|%%d|%%s|%%s' || char(10), {_COLUMNS})"  # noqa: S608  (the model's table and columns; the id is a parameter)
            f" AS line FROM {table} WHERE randomization_list_id = %s ORDER BY stratum, sequence)",
            [randomization_list_id],
        )
        return str(cursor.fetchone()[0] or "")


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
            # SQLite has no hash function: it writes each row's canonical line (in C, in the unique
            # index's order) and Python hashes the text once. Its BINARY collation compares UTF-8
            # bytes, which is code-point order, as Python's `sorted` in list_digest.
            # printf writes the line in one call where || converts and copies column by column; the
            # integer columns print as the same decimal text either way.
            cursor.execute(
                f"SELECT printf('%%s|%%d|%%d|%%d|%%s|%%s' || char(10), {_COLUMNS}) FROM {table} "  # noqa: S608  (as above)
                "WHERE randomization_list_id = %s ORDER BY stratum, sequence",
                [randomization_list_id],
            )
            return hashlib.sha256("".join(row[0] for row in cursor.fetchall()).encode()).hexdigest()
    rows = (
        ListEntry.objects.filter(randomization_list_id=randomization_list_id)
        .order_by()
        .values_list(*_COLUMNS.split(", "))
    )
    return list_digest(rows)
