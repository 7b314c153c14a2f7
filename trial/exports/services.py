"""The one export engine: the page (through an export job a Celery worker runs as the requesting
user), the API and `manage.py export` all call `export_bundle`.

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
import os
import secrets
import socket
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trial import blinding
from trial.access import Capability, require
from trial.accounts.two_factor import two_factor_required
from trial.closeout.models import DatabaseLock, Signature
from trial.closeout.selectors import study_is_formally_unblinded
from trial.core.access_log import access_event_record
from trial.core.batches import in_batches
from trial.core.models import AccessEvent
from trial.exports.datasets import Table, dataset_table, datasets_for, may_include_arm
from trial.exports.dictionary import DATASETS_BY_CODE
from trial.exports.formats import FORMATS, WRITERS
from trial.exports.models import ApiToken, ExportJob, roles_fingerprint, token_digest
from trial.exports.odm import OdmContext
from trial.exports.sdtm import SDTM_SOURCES
from trial.exports.tasks import EXPORT_JOB_TIME_LIMIT_S, export_job_execute_task
from trial.participants.models import Participant
from trial.protocol.selectors import protocol


class ExportError(ValueError):
    """A request the engine cannot serve (unknown format or dataset): shown to the user as it is."""


# progress(done, total, step): called before each step of a bundle (each dataset read, the files
# written, each file packed), so a job can show how far it is. `total` may grow once the writer has
# said how many files it made.
Progress = Callable[[int, int, str], None]


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
        ids = sorted({int(x) for x in t.frame["RECID"].dropna()})
        history = model.history.model  # type: ignore[attr-defined]
        for batch in in_batches(ids):
            for rid, user_name, at, reason in (
                history.objects.filter(id__in=batch)
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
    *,
    by: Any,
    datasets: list[str] | None = None,
    include_arm: bool = False,
    record_ids: set[int] | None = None,
    progress: Progress | None = None,
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
    tables = []
    for done, code in enumerate(codes):
        if progress is not None:
            progress(done, len(codes), f"Reading {code}: {DATASETS_BY_CODE[code].label}")
        tables.append(dataset_table(code, user=user, include_arm=include_arm, audit_codes=allowed))
    if record_ids is not None:
        # The admin's "Export selected": the same tables, narrowed to the chosen records.
        tables = [_only_records(t, record_ids) for t in tables]
    return tables


def _only_records(table: Table, record_ids: set[int]) -> Table:
    if "RECID" in table.frame.columns:
        keep = table.frame["RECID"].isin(list(record_ids))
    else:  # participants: keyed by participant id
        ids = {
            pid
            for batch in in_batches(sorted(record_ids))
            for pid in Participant.objects.filter(pk__in=batch).values_list("participant_id", flat=True)
        }
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
    progress: Progress | None = None,
) -> Bundle:
    """Every chosen dataset in one format, zipped with its manifest, and recorded in the access log.
    `progress` is told of each step; it changes nothing in the bundle."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}. Choose from {', '.join(FORMATS)}.")
    user = require(by, Capability.EXPORT)
    if fmt == "sdtm":
        # The SDTM domains are built from their fixed source datasets (the ones this user may export).
        allowed = {d.code for d in datasets_for(user)}
        datasets = [c for c in SDTM_SOURCES if c in allowed]
        if include_arm and "pharm" in allowed:
            # EX with the arm gives the dose the pharmacy prepared (trial.exports.sdtm), read from its
            # preparation records: only a role that may take the pharmacy dataset gets them.
            datasets.append("pharm")
    n_read = len(datasets) if datasets else len(datasets_for(user))

    def reading(done: int, _total: int, step: str) -> None:
        if progress is not None:
            progress(done, n_read + 2, step)

    tables = export_tables(by=user, datasets=datasets, include_arm=include_arm, record_ids=record_ids, progress=reading)
    if progress is not None:
        progress(len(tables), len(tables) + 2, f"Writing the {fmt} files")
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
    steps = len(tables) + 1 + len(files) + 1
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for packed, (name, content) in enumerate(sorted(files.items())):
            if progress is not None:
                progress(len(tables) + 1 + packed, steps, f"Packing {name}")
            zf.writestr(name, content)
        if progress is not None:
            progress(steps - 1, steps, "Packing manifest.json")
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    filename = f"stratum-{fmt}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
    detail = {"format": fmt, "datasets": [t.code for t in tables], "with_arm": with_arm}
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=filename, detail=detail)
    if with_arm:
        access_event_record(kind=AccessEvent.Kind.UNBLINDING, user=user, target=filename, detail="export by arm")
    return Bundle(filename=filename, content=out.getvalue(), manifest=manifest)


# --- Export jobs: the same engine, run by a Celery worker ------------------------------------------


def _export_check(*, user: Any, fmt: str, datasets: list[str] | None, include_arm: bool) -> None:
    """Refuse what the engine would refuse, before anything is written or queued."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}. Choose from {', '.join(FORMATS)}.")
    allowed = [d.code for d in datasets_for(user)]
    unknown = [c for c in datasets or [] if c not in DATASETS_BY_CODE]
    if unknown:
        raise ExportError(f"Unknown dataset: {', '.join(unknown)}. Choose from {', '.join(allowed)}.")
    refused = [c for c in datasets or [] if c not in allowed]
    if refused:
        raise PermissionDenied(f"Your role does not allow these datasets: {', '.join(refused)}.")
    if include_arm and not may_include_arm(user):
        raise PermissionDenied("This export cannot include the treatment arm for a blinded user.")


def export_job_request(*, by: Any, fmt: str, datasets: list[str] | None = None, include_arm: bool = False) -> ExportJob:
    """Record the request and queue it; the worker makes the bundle as this user (export_job_execute)."""
    user = require(by, Capability.EXPORT)
    _export_check(user=user, fmt=fmt, datasets=datasets, include_arm=include_arm)
    job = ExportJob(
        requested_by=user,
        requested_at=timezone.now(),
        format=fmt,
        datasets=list(datasets or []),
        include_arm=include_arm,
        unblinded=blinding.is_unblinded_role(user),
        step="Waiting for a worker",
    )
    job.full_clean()
    job.save()
    # Queue only after commit, so the worker can see the row it is asked to run.
    transaction.on_commit(lambda: export_job_execute_task.delay(job.pk))
    return job


def _claimant_is_gone(worker: str) -> bool:
    """True when the process that claimed a job ran on this host and no longer exists."""
    host, _, pid = worker.rpartition(" pid ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def export_job_claim(*, job_id: int, redelivered: bool = False) -> ExportJob | None:
    """Take a job for this worker, under a row lock; None when there is nothing to do.

    A queued job is taken; a finished one never again (a job delivered twice cannot overwrite its
    bundle); a running one only when its worker was lost (the broker delivers the message again, or
    its process on this host is gone)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("requested_by").get(pk=job_id)
        if job.status == ExportJob.Status.RUNNING and (redelivered or _claimant_is_gone(job.worker)):
            job.error = f"Restarted: the worker {job.worker} was lost."
        elif job.status != ExportJob.Status.QUEUED:
            return None
        job.status = ExportJob.Status.RUNNING
        job.worker = f"{socket.gethostname()} pid {os.getpid()}"
        job.started_at = timezone.now()
        job.progress_done, job.step = 0, "Starting"
        job.save(update_fields=["status", "worker", "started_at", "error", "progress_done", "step"])
    return job


def export_job_dir() -> Path:
    return Path(settings.EXPORT_JOB_DIR)


def _write_bundle(job: ExportJob, bundle: Bundle) -> tuple[str, int, str]:
    """Write the ZIP beside its final name and rename it, so a half-written file is never served.
    Readable by the server's user only: it holds clinical data."""
    relative = f"{job.pk}/{bundle.filename}"
    path = export_job_dir() / relative
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bundle.content)
    os.replace(partial, path)
    return relative, len(bundle.content), hashlib.sha256(bundle.content).hexdigest()


def export_job_execute(*, job_id: int, redelivered: bool = False) -> ExportJob:
    """Make the job's bundle as its requester: the same engine, capability and blind as the page."""
    claimed = export_job_claim(job_id=job_id, redelivered=redelivered)
    if claimed is None:
        return ExportJob.objects.get(pk=job_id)
    job = claimed
    worker = job.worker

    def progress(done: int, total: int, step: str) -> None:
        # A plain update of the worker's own row (a job is not a clinical record), so the page's
        # poll sees it at once; it is written only while this worker still holds the job.
        job.progress_done, job.progress_total, job.step = done, total, step[:200]
        ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING, worker=worker).update(
            progress_done=done, progress_total=total, step=step[:200]
        )

    try:
        user = job.requested_by
        # The requester's blind now, not when they asked: a role taken away since is respected.
        job.unblinded = blinding.is_unblinded_role(user)
        bundle = export_bundle(
            by=user,
            fmt=job.format,
            datasets=list(job.datasets) or None,
            include_arm=job.include_arm,
            progress=progress,
        )
        job.file_path, job.file_size, job.file_sha256 = _write_bundle(job, bundle)
        job.filename = bundle.filename
        job.holds_arm = bool(bundle.manifest["includes_arm"])
        # The datasets the bundle holds (an empty request means "all I may export"; SDTM reads its own).
        job.datasets = [d["code"] for d in bundle.manifest["datasets"]]
        job.status = ExportJob.Status.DONE
        job.progress_done = job.progress_total
        job.step = "Done"
        job.error = ""
    except Exception as exc:  # the job records any failure (a refusal, the soft time limit) for the user
        job.status = ExportJob.Status.FAILED
        job.error = str(exc) if isinstance(exc, ExportError | PermissionDenied) else f"{type(exc).__name__}: {exc}"
        job.step = "Failed"
    job.finished_at = timezone.now()
    with transaction.atomic():
        # Write the outcome only if this worker still holds the job (the sweep may have failed it).
        current = ExportJob.objects.select_for_update().get(pk=job.pk)
        if current.status == ExportJob.Status.RUNNING and current.worker == worker:
            job.save()
        else:
            job = current
    return job


# A job still running this long after it started has outlived its hard time limit: its worker is gone.
JOB_STALE_AFTER = timedelta(seconds=EXPORT_JOB_TIME_LIMIT_S + 5 * 60)
# A job queued this long ago never reached a worker (the message was lost).
JOB_QUEUED_STALE_AFTER = timedelta(hours=6)


def export_jobs_sweep(*, now: datetime | None = None) -> int:
    """Fail, with the reason, every job left running past its limit or queued and never started.
    Returns how many were failed."""
    now = now or timezone.now()
    stale = ExportJob.objects.filter(
        status=ExportJob.Status.RUNNING, started_at__lt=now - JOB_STALE_AFTER
    ) | ExportJob.objects.filter(status=ExportJob.Status.QUEUED, requested_at__lt=now - JOB_QUEUED_STALE_AFTER)
    failed = 0
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().get(pk=job_id)
            if job.status == ExportJob.Status.RUNNING and job.started_at and job.started_at < now - JOB_STALE_AFTER:
                job.error = (
                    f"Stopped: still running {int(JOB_STALE_AFTER.total_seconds() // 60)} minutes after it started, "
                    "past its time limit; the worker was lost. Ask for the export again."
                )
            elif job.status == ExportJob.Status.QUEUED and job.requested_at < now - JOB_QUEUED_STALE_AFTER:
                job.error = "Stopped: queued for over 6 hours and never started. Ask for the export again."
            else:
                continue
            job.status = ExportJob.Status.FAILED
            job.step = "Failed"
            job.finished_at = now
            job.save(update_fields=["status", "error", "step", "finished_at"])
            failed += 1
    return failed


def export_job_download(*, by: Any, pk: int) -> tuple[ExportJob, Path]:
    """A finished job's bundle, for a user who may have it now (trial.exports.selectors.export_job_get
    checks again: the capability, whose job it is, and the blind), recorded in the access log like
    any export (21 CFR 11.10(e)); one that holds the arm is an unblinding too (ICH E6(R3) 4.2)."""
    from trial.exports.selectors import export_job_get

    user = require(by, Capability.EXPORT)
    job = export_job_get(user=user, pk=pk)
    if job.status != ExportJob.Status.DONE:
        raise ExportError("This export has not finished: there is nothing to download yet.")
    path = export_job_dir() / job.file_path
    if not path.is_file():
        raise ExportError("The bundle's file is no longer on the server. Ask for the export again.")
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if digest != job.file_sha256:
        # 21 CFR 11.10(c): a file altered on the disk is never handed out as the one that was made.
        raise ExportError("The bundle's file on the server does not match its SHA-256. Ask for the export again.")
    detail = {
        "job": job.pk,
        "format": job.format,
        "datasets": job.datasets,
        "download": True,
        "sha256": job.file_sha256,
        "with_arm": job.holds_arm,
    }
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=job.filename, detail=detail)
    if job.holds_arm:
        access_event_record(kind=AccessEvent.Kind.UNBLINDING, user=user, target=job.filename, detail="export by arm")
    return job, path


# --- API tokens ------------------------------------------------------------------------------------


# Tokens end on their own: a forgotten script's token does not stay valid for the trial's lifetime.
TOKEN_LIFETIME = timedelta(days=90)


def api_token_create(*, by: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for the user's own scripts; the token itself is returned once and never stored.
    It carries exactly the user's roles (a change of roles invalidates it) and so their blind."""
    user = require(by, Capability.USE_API_TOKENS)
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
    user = require(by, Capability.USE_API_TOKENS)
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
