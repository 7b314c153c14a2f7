"""The one export engine: the page, the API and `manage.py export` all call `export_bundle`.

It checks the capability, reads the datasets as the user may see them (trial.exports.datasets asks
trial.blinding), writes them in the asked format, and packs a ZIP with a manifest.json giving the
SHA-256 of each file, the database state (lock, formal unblinding), who made it and when. Every
export is written to the access log (21 CFR 11.10(e)); one that holds the arm is logged as an
unblinding too (ICH E6(R3) 4.2).
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trial import blinding
from trial.access import Capability, require
from trial.accounts.two_factor import two_factor_required
from trial.closeout.models import DatabaseLock, Signature
from trial.closeout.selectors import study_is_formally_unblinded
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent
from trial.exports.datasets import Table, dataset_table, datasets_for, may_include_arm
from trial.exports.dictionary import DATASETS_BY_CODE
from trial.exports.formats import FORMATS, WRITERS
from trial.exports.models import ApiToken, roles_fingerprint, token_digest
from trial.exports.odm import OdmContext
from trial.exports.sdtm import SDTM_SOURCES
from trial.participants.models import Participant
from trial.protocol.selectors import protocol


class ExportError(ValueError):
    """A request the engine cannot serve (unknown format or dataset): shown to the user as it is."""


@dataclass(frozen=True)
class Bundle:
    filename: str
    content: bytes
    manifest: dict[str, Any]


def database_state() -> dict[str, Any]:
    lock = DatabaseLock.objects.order_by("-id").first()
    locked = bool(lock and lock.locked_at and not lock.unlocked_at)
    return {
        "database_locked": locked,
        "database_locked_at": lock.locked_at.isoformat() if locked and lock and lock.locked_at else None,
        "study_formally_unblinded": study_is_formally_unblinded(),
        "protocol": protocol().code,
        "protocol_sha256": protocol().sha256,
    }


def _odm_context(user: Any, tables: list[Table], now: datetime) -> OdmContext:
    cfg = protocol()
    audit: dict[tuple[str, int], tuple[str, datetime, str]] = {}
    for t in tables:
        model = DATASETS_BY_CODE[t.code].model
        if model is None or "RECID" not in t.frame.columns:
            continue
        ids = {int(x) for x in t.frame["RECID"].dropna()}
        history = model.history.model  # type: ignore[attr-defined]
        for rid, user_name, at, reason in (
            history.objects.filter(id__in=ids)
            .order_by("id", "history_date", "history_id")
            .values_list("id", "history_user__username", "history_date", "history_change_reason")
        ):
            audit[(t.code, rid)] = (user_name or "system", at, reason or "")
    signatures = {
        s.participant.participant_id: (s.signer.get_username(), s.signed_at, s.meaning)
        for s in Signature.objects.filter(voided_at__isnull=True)
        .select_related("participant", "signer")
        .order_by("signed_at")
    }
    return OdmContext(
        study_oid=f"ST.{cfg.code}",
        study_name=cfg.code,
        description=cfg.title,
        protocol_name=cfg.registration,
        visits=[(v.code, v.name) for v in cfg.visits],
        site_name=cfg.sites[0].label if cfg.sites else "Site",
        created_at=now,
        audit=audit,
        signatures=signatures,
    )


def export_tables(
    *, by: Any, datasets: list[str] | None = None, include_arm: bool = False, record_ids: set[int] | None = None
) -> list[Table]:
    user = require(by, Capability.EXPORT)
    allowed = [d.code for d in datasets_for(user)]
    codes = datasets if datasets else allowed
    unknown = [c for c in codes if c not in DATASETS_BY_CODE]
    if unknown:
        raise ExportError(f"Unknown dataset: {', '.join(unknown)}. Choose from {', '.join(allowed)}.")
    refused = [c for c in codes if c not in allowed]
    if refused:
        raise PermissionDenied(f"Your role does not allow these datasets: {', '.join(refused)}.")
    if include_arm and not may_include_arm(user):
        raise PermissionDenied("This export cannot include the treatment arm for a blinded user.")
    tables = [dataset_table(c, user=user, include_arm=include_arm, audit_codes=allowed) for c in codes]
    if record_ids is not None:
        # The admin's "Export selected": the same tables, narrowed to the chosen records.
        tables = [_only_records(t, record_ids) for t in tables]
    return tables


def _only_records(table: Table, record_ids: set[int]) -> Table:
    if "RECID" in table.frame.columns:
        keep = table.frame["RECID"].isin(list(record_ids))
    else:  # participants: keyed by participant id
        ids = set(Participant.objects.filter(pk__in=record_ids).values_list("participant_id", flat=True))
        keep = table.frame["SUBJID"].isin(list(ids))
    return Table(
        code=table.code, label=table.label, variables=table.variables, frame=table.frame[keep].reset_index(drop=True)
    )


def export_bundle(
    *,
    by: Any,
    fmt: str,
    datasets: list[str] | None = None,
    include_arm: bool = False,
    record_ids: set[int] | None = None,
) -> Bundle:
    """Every chosen dataset in one format, zipped with its manifest, and recorded in the access log."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}. Choose from {', '.join(FORMATS)}.")
    user = require(by, Capability.EXPORT)
    if fmt == "sdtm":
        # The SDTM domains are built from their fixed source datasets (the ones this user may export).
        allowed = {d.code for d in datasets_for(user)}
        datasets = [c for c in SDTM_SOURCES if c in allowed]
    tables = export_tables(by=user, datasets=datasets, include_arm=include_arm, record_ids=record_ids)
    now = timezone.now()
    context: dict[str, Any] = {}
    if fmt == "odm":
        context = {"context": _odm_context(user, tables, now)}
    elif fmt == "sdtm":
        context = {"with_arm": include_arm}
    files = WRITERS[fmt](tables, **context)
    with_arm = include_arm or any(t.code == "pharm" for t in tables)
    manifest = {
        "format": fmt,
        "made_by": user.get_username(),
        "made_at": now.isoformat(),
        "blinded": not blinding.is_unblinded_role(user),
        "includes_arm": with_arm,
        "database_state": database_state(),
        "datasets": [{"code": t.code, "label": t.label, "rows": len(t.frame)} for t in tables],
        "files": [
            {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            for name, content in sorted(files.items())
        ],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in sorted(files.items()):
            zf.writestr(name, content)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    filename = f"stratum-{fmt}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
    detail = {"format": fmt, "datasets": [t.code for t in tables], "with_arm": with_arm}
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=filename, detail=detail)
    if with_arm:
        access_event_record(kind=AccessEvent.Kind.UNBLINDING, user=user, target=filename, detail="export by arm")
    return Bundle(filename=filename, content=out.getvalue(), manifest=manifest)


# --- API tokens ------------------------------------------------------------------------------------


# Tokens end on their own: a forgotten script's token does not stay valid for the trial's lifetime.
TOKEN_LIFETIME = timedelta(days=90)


def api_token_create(*, by: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for the user's own scripts; the token itself is returned once and never stored."""
    user = require(by, Capability.EXPORT)
    name = name.strip()
    if not name:
        raise ExportError("Give the token a name: what script or person will use it.")
    if two_factor_required(user):
        raise ExportError(
            "Your account signs in with a second factor, which a token cannot carry: use the exports page instead."
        )
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name[:100],
            key_prefix=key[:8],
            key_sha256=token_digest(key),
            created_at=now,
            roles_at_issue=roles_fingerprint(user),
            expires_at=now + TOKEN_LIFETIME,
        )
        token.full_clean()
        token.save()
        # 21 CFR 11.10(d), (e): who gave a script their access, when, and until when (never the key).
        access_event_record(
            kind=AccessEvent.Kind.API_TOKEN_CREATED,
            user=user,
            target=f"API token {token.key_prefix}",
            detail={"name": token.name, "expires_at": token.expires_at, "roles": token.roles_at_issue},
        )
    return token, key


def api_token_revoke(*, by: Any, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens. Kept, with who revoked it and when."""
    user = require(by, Capability.EXPORT)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            raise ExportError("No such token of yours.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.revoked_by = user
            token.save(update_fields=["revoked_at", "revoked_by"])
            access_event_record(
                kind=AccessEvent.Kind.API_TOKEN_REVOKED,
                user=user,
                target=f"API token {token.key_prefix}",
                detail={"name": token.name},
            )
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Note the token's last use (bookkeeping on the token, not a clinical record)."""
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
