"""The function that seals audit rows into the hash chain on PostgreSQL (trial.core.audit_chain)."""

from typing import Any

from django.db import migrations

# The chain lock, the chain's head and the seals' insert in one round trip (the caller:
# trial.core.audit_chain._seals_write_postgresql). chain_sha256 = SHA-256 of
# "previous|table|row id|row hash", as audit_chain.chain_sha256 computes and audit_verify checks.
PG_SEAL_FUNCTION = """
CREATE OR REPLACE FUNCTION stratum_audit_seal(
    lock_key bigint, tables text[], row_ids text[], row_hashes text[], at timestamptz
) RETURNS TABLE (seal_id bigint, seal_previous text, seal_chain text) AS $$
DECLARE
    previous text;
    chained text;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT s.chain_sha256 INTO previous FROM core_auditseal s ORDER BY s.id DESC LIMIT 1;
    previous := coalesce(previous, repeat('0', 64));
    FOR i IN 1 .. coalesce(array_length(tables, 1), 0) LOOP
        chained := encode(sha256(convert_to(
            previous || '|' || tables[i] || '|' || row_ids[i] || '|' || row_hashes[i], 'UTF8')), 'hex');
        INSERT INTO core_auditseal (table_name, row_id, row_sha256, previous_sha256, chain_sha256, sealed_at)
            VALUES (tables[i], row_ids[i], row_hashes[i], previous, chained, at)
            RETURNING id INTO seal_id;
        seal_previous := previous;
        seal_chain := chained;
        RETURN NEXT;
        previous := chained;
    END LOOP;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_SEAL_FUNCTION)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS stratum_audit_seal(bigint, text[], text[], text[], timestamptz)")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_access_event_api_token_kinds"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
