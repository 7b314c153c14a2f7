"""Database triggers that make audit history append-only, on SQLite and PostgreSQL.

Installed after every `migrate` (post_migrate), so every history table, including those of models
added later, is covered without a hand-written migration per table. The application never updates
or deletes a history row; a trigger makes that true for anyone holding a database connection too.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from simple_history.models import HistoricalChanges

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION stratum_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def append_only_tables() -> list[str]:
    tables = []
    for model in apps.get_models():
        if issubclass(model, HistoricalChanges) or getattr(model, "append_only", False):
            tables.append(model._meta.db_table)
    return sorted(tables)


def install(connection: BaseDatabaseWrapper) -> int:
    tables = set(append_only_tables()) & set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
        for table in sorted(tables):
            qt = connection.ops.quote_name(table)
            if connection.vendor == "sqlite":
                for op in ("UPDATE", "DELETE"):
                    cursor.execute(
                        f'CREATE TRIGGER IF NOT EXISTS "{table}_append_only_{op.lower()}" BEFORE {op} ON {qt} '
                        f"BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: {op} on {table} refused'); END;"
                    )
            elif connection.vendor == "postgresql":
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON {qt}')
                cursor.execute(
                    f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON {qt} '
                    "FOR EACH ROW EXECUTE FUNCTION stratum_refuse_audit_change()"
                )
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only_truncate" ON {qt}')
                cursor.execute(
                    f'CREATE TRIGGER "{table}_append_only_truncate" BEFORE TRUNCATE ON {qt} '
                    "FOR EACH STATEMENT EXECUTE FUNCTION stratum_refuse_audit_change()"
                )
            else:  # pragma: no cover - we support exactly these two
                raise NotImplementedError(f"No append-only triggers for {connection.vendor}")
    return len(tables)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Only for `flush` in the test settings (see trial/core/management/commands/flush.py)."""
    tables = set(append_only_tables()) & set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in sorted(tables):
            qt = connection.ops.quote_name(table)
            if connection.vendor == "sqlite":
                for op in ("update", "delete"):
                    cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only_{op}"')
            else:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON {qt}')
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only_truncate" ON {qt}')


def install_after_migrate(using: str = "default", **kwargs: object) -> None:
    install(connections[using])
