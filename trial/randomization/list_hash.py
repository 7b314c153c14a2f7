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
from collections.abc import Callable
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction

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


def stored_list_matches_in_transaction(randomization_list_id: int, expected: str) -> bool:
    """`stored_list_matches`, answered without reading the list again when this transaction has
    already found it intact and nothing can have written to it since.

    Only on SQLite, and only inside a transaction that SQLite itself has open. SQLite's transactions
    are serializable and this project opens them IMMEDIATE (settings: the write lock is taken at
    BEGIN), so no other connection, and so no other process, can write a row until this transaction
    ends: the list this transaction proved intact is still the list it reads. This connection's own
    SQL writes to the entries are counted by temporary triggers that exist only on this connection,
    and any schema change in either schema (a dropped or moved trigger, a table rebuilt by a
    migration, a temporary table or view shadowing the entries) is seen in SQLite's schema versions.
    A write or schema change since the proof, a rolled-back savepoint that held the proof, or the
    end of the transaction makes the next call read the whole list again. So every allocation is
    made from a list proven intact as its transaction sees it (21 CFR 11.10(a)); a batch of
    allocations in one transaction pays for one reading. What this does not see is code running in
    this process that drives the connection below SQL (the blob interface) or rewinds it behind
    Django's back (a raw ROLLBACK TO): such code could as well replace the check itself.
    PostgreSQL reads committed rows statement by statement, so there every call reads the list."""
    key = (randomization_list_id, expected)
    state = _watch_state() if _in_sqlite_transaction() else None
    if state is not None:
        proof = _proofs().get(key)
        if proof is not None and proof.state == state and proof.registered():
            return True
    if not stored_list_matches(randomization_list_id, expected):
        return False
    if state is not None:
        proof = _Proof(state=state, token=_new_token())
        # The token lives in the transaction's on-commit list: Django empties it at the commit or the
        # rollback and drops it with a rolled-back savepoint, and the proof dies with it.
        transaction.on_commit(proof.token)
        _proofs()[key] = proof
    return True


def _in_sqlite_transaction() -> bool:
    # Django's atomic block and SQLite's own transaction: with autocommit switched off by hand,
    # Python's sqlite3 would begin one only at the first write.
    return (
        connection.vendor == "sqlite"
        and connection.in_atomic_block
        and connection.connection is not None
        and bool(connection.connection.in_transaction)
    )


@dataclass(frozen=True)
class _Proof:
    state: tuple[int, int, int]
    token: Callable[[], None]

    def registered(self) -> bool:
        return any(entry[1] is self.token for entry in connection.run_on_commit)


def _new_token() -> Callable[[], None]:
    def token() -> None:
        """Nothing to do at the commit: its presence in the on-commit list is what counts."""

    return token


def _proofs() -> dict[tuple[int, str], _Proof]:
    proofs: dict[tuple[int, str], _Proof] | None = getattr(connection, "_stratum_list_proofs", None)
    if proofs is None:
        proofs = {}
        connection._stratum_list_proofs = proofs  # type: ignore[attr-defined]  # per connection, as the trigger
    return proofs


_WRITES_TABLE = "stratum_list_entry_writes"
_OPS = ("INSERT", "UPDATE", "DELETE")


def _watch_state() -> tuple[int, int, int] | None:
    """SQLite: (entry rows this connection has written since its triggers were made, the main
    schema's version, the temporary schema's version); None when the triggers cannot be shown to
    watch the entries table, so nothing is taken on trust."""
    from trial.randomization.models import ListEntry

    table = ListEntry._meta.db_table
    with connection.cursor() as cursor:
        for attempt in range(2):
            try:
                cursor.execute(
                    f"SELECT n, (SELECT count(*) FROM sqlite_temp_master WHERE type = 'trigger'"  # noqa: S608  (constant names)
                    f" AND name LIKE '{_WRITES_TABLE}%%' AND tbl_name = %s),"
                    " (SELECT count(*) FROM sqlite_temp_master WHERE name = %s)"
                    f" FROM temp.{_WRITES_TABLE}",
                    [table, table],
                )
                n, triggers, shadows = cursor.fetchone()
            except OperationalError:
                n, triggers, shadows = None, 0, 0
            if n is not None and triggers == len(_OPS) and shadows == 0:
                cursor.execute("PRAGMA main.schema_version")
                main_version = cursor.fetchone()[0]
                cursor.execute("PRAGMA temp.schema_version")
                return int(n), int(main_version), int(cursor.fetchone()[0])
            if attempt == 0 and shadows == 0:
                _watch_install(cursor, table)
    return None


def _watch_install(cursor: object, table: str) -> None:
    """Made on a connection's first check in a transaction, and again whenever a table rebuild or a
    DROP took the triggers away or moved them (a rollback takes them away too)."""
    quoted = connection.ops.quote_name(table)
    execute = cursor.execute  # type: ignore[attr-defined]
    execute(f"CREATE TEMP TABLE IF NOT EXISTS {_WRITES_TABLE} (n INTEGER NOT NULL)")
    execute(f"INSERT INTO temp.{_WRITES_TABLE} (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM temp.{_WRITES_TABLE})")  # noqa: S608  (constant names)
    for op in _OPS:
        name = f"{_WRITES_TABLE}_{op.lower()}"
        execute(f"DROP TRIGGER IF EXISTS temp.{name}")
        body = f"BEGIN UPDATE {_WRITES_TABLE} SET n = n + 1; END"  # noqa: S608  (constant names)
        execute(f"CREATE TEMP TRIGGER {name} AFTER {op} ON main.{quoted} {body}")


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
