"""The export datasets, read as a user may see them: trial.blinding decides every row and column.

Each builder returns a `Table`: the dictionary's variables and one pandas DataFrame whose columns
are those variables' names. The blind, in every format because every format is written from here:
- no arm and no kit id unless trial.blinding says the user may see every arm (and the caller asked);
  the pharmacy dataset is refused to everyone else;
- post-baseline arm-revealing labs (hs-CRP, TNF, sTNFRs) are removed for every blinded role, in the
  lab dataset, in the audit trail and in the data queries (their edit checks reveal a value);
- adverse events are removed for the roles the protocol names (AE terms occur on one arm only);
- rows are ordered by participant id, never by list or allocation order.
The MMRM analysis dataset comes from analysis.frames, the one ORM-to-pandas bridge of the analyses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import models

from analysis import frames
from trial import blinding
from trial.access import Capability, can
from trial.closeout.models import CasebookLock, DatabaseLock, Signature, StudyUnblinding
from trial.exports.dictionary import (
    ARM_VARIABLE_SOURCE,
    CHAR,
    DATASETS,
    DATASETS_BY_CODE,
    DATE,
    DATETIME,
    NUM,
    DatasetDef,
    Variable,
    arm_variable,
    is_user_model,
    variables,
)
from trial.participants import scope
from trial.participants.models import Participant
from trial.pharmacy.models import Preparation
from trial.queries.models import QueryMessage
from trial.queries.selectors import queries_visible_to
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import LabResult


@dataclass(frozen=True)
class Table:
    code: str
    label: str
    variables: tuple[Variable, ...]
    frame: pd.DataFrame


# Datasets not cut by site (the audit trail, signatures, locks, the analysis frame): only a role that
# sees every site exports them. Every other dataset holds the rows of the user's sites only
# (trial.participants.scope).
_ACROSS_SITES = frozenset({"sig", "lock", "audit", "mmrm"})


def datasets_for(user: Any) -> list[DatasetDef]:
    """The datasets this user may export (the pharmacy one to unblinded roles only, AEs not to raters)."""
    out = []
    for ds in DATASETS:
        if ds.unblinded_only and not (blinding.is_unblinded_role(user) and can(user, Capability.VIEW_PHARMACY)):
            continue
        if ds.code == "ae" and not blinding.may_see_adverse_events(user):
            continue
        if ds.code in _ACROSS_SITES and not scope.sees_all_sites(user):
            continue
        out.append(ds)
    return out


def may_include_arm(user: Any) -> bool:
    return blinding.is_unblinded_role(user)


def _value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    return v


def _frame(vars_: tuple[Variable, ...], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows keyed by variable source -> a DataFrame with one typed column per variable name."""
    data: dict[str, Any] = {}
    for v in vars_:
        col = [_value(r.get(v.source)) for r in rows]
        if v.type == NUM:
            numbers = pd.to_numeric(pd.Series(col, dtype="object"), errors="coerce").astype("float64")
            whole = numbers.dropna()
            # Whole numbers (scores, counts, codes) stay whole in every format; measures stay decimal.
            data[v.name] = numbers.astype("Int64") if len(whole) and bool((whole % 1 == 0).all()) else numbers
        elif v.type == DATETIME:
            # UTC, without the offset: SAS, SPSS and Stata datetimes carry no time zone (the label says UTC).
            data[v.name] = pd.Series(
                [x.astimezone(UTC).replace(tzinfo=None) if isinstance(x, datetime) else None for x in col],
                dtype="datetime64[us]",
            )
        elif v.type == DATE:
            data[v.name] = pd.Series([x if isinstance(x, date) else None for x in col], dtype="object")
        else:
            data[v.name] = pd.Series(["" if x is None else str(x) for x in col], dtype="object")
    return pd.DataFrame(data, columns=[v.name for v in vars_])


def _user_name_fields(model: type[models.Model], fields: list[str]) -> list[str]:
    lookups = []
    for name in fields:
        f = model._meta.get_field(name)
        if isinstance(f, models.ForeignKey):
            lookups.append(f"{name}__username" if is_user_model(f.related_model) else f"{name}_id")
        else:
            lookups.append(name)
    return lookups


def _model_rows(ds: DatasetDef, user: Any) -> list[dict[str, Any]]:
    assert ds.model is not None
    vars_ = variables(ds.code)
    key_sources = {"participant_id", "visit_code", "week", "visit_date", "record_id", "version"}
    fields = [v.source for v in vars_ if v.source not in key_sources and v.source in _field_names(ds.model)]
    model = ds.model
    qs: Any = model.objects.active() if hasattr(model.objects, "active") else model.objects.all()  # type: ignore[attr-defined]
    if model is LabResult:
        qs = visible_labs(user, qs)
    if ds.code == "dq":
        qs = queries_visible_to(user)
    if ds.anchor == "visit":
        base = "visit__" if model.__name__ != "Visit" else ""
        keys = {
            "participant_id": f"{base}participant__participant_id",
            "visit_code": f"{base}definition__code",
            "week": f"{base}definition__week",
            "visit_date": f"{base}actual_date",
        }
        qs = qs.filter(**{f"{base}participant__voided_at__isnull": True}).filter(
            scope.site_filter(user, f"{base}participant__site")
        )
        if base:
            qs = qs.filter(visit__voided_at__isnull=True)
        order = [keys["participant_id"], keys["week"], "pk"]
    elif ds.model is Participant:
        keys = {}
        qs = qs.filter(scope.site_filter(user))
        order = ["participant_id"]
    else:
        keys = {"participant_id": "participant__participant_id"}
        qs = qs.filter(participant__voided_at__isnull=True).filter(scope.site_filter(user, "participant__site"))
        order = [keys["participant_id"], "pk"]
    keys |= {"record_id": "pk"} if ds.anchor else {}
    if ds.anchor and hasattr(model, "version"):
        keys["version"] = "version"
    lookups = dict(zip(fields, _user_name_fields(model, fields), strict=True)) | keys
    return [
        {source: row[lookup] for source, lookup in lookups.items()}
        for row in qs.order_by(*order).values(*lookups.values())
    ]


def _field_names(model: type[models.Model]) -> set[str]:
    return {f.name for f in model._meta.concrete_fields}


def _dm_rows(user: Any, include_arm: bool) -> list[dict[str, Any]]:
    qs = (
        scope.participants_for(user).select_related("site", "screening", "allocation__entry").order_by("participant_id")
    )
    participants = list(qs)
    # One question to the blinding module for all of them, so the export's cost does not grow per row.
    arms = blinding.arm_codes(user, participants) if include_arm else {}
    rows = []
    for p in participants:
        scr = getattr(p, "screening", None)
        alloc = getattr(p, "allocation", None)
        row = {
            "participant_id": p.participant_id,
            "screening_number": p.screening_number,
            "sex": p.sex,
            "status": p.status,
            "site_code": p.site.code,
            "age": scr.age if scr else None,
            "randomization_number": alloc.entry.randomization_number if alloc else None,
            "randomized_at": alloc.randomized_at if alloc else None,
            "stratum": alloc.stratum if alloc else None,
        }
        if include_arm:
            row[ARM_VARIABLE_SOURCE] = arms[p.pk]
        rows.append(row)
    return rows


def _query_history_rows(user: Any) -> list[dict[str, Any]]:
    visible = queries_visible_to(user).values_list("pk", flat=True)
    qs = (
        # A subquery, not a list of ids: a large trial's queries would pass SQLite's limit on bound values.
        QueryMessage.objects.filter(query_id__in=visible)
        .select_related("query__participant", "author")
        .order_by("query__participant__participant_id", "query_id", "created_at", "pk")
    )
    return [
        {
            "participant_id": m.query.participant.participant_id,
            "query_id": m.query_id,
            "action": m.action,
            "text": m.text,
            "author": m.author.get_username() if m.author else "",
            "created_at": m.created_at,
        }
        for m in qs
    ]


def _signature_rows() -> list[dict[str, Any]]:
    qs = Signature.objects.select_related("participant", "signer").order_by("participant__participant_id", "pk")
    return [
        {
            "participant_id": s.participant.participant_id,
            "signer": s.signer.get_username(),
            "printed_name": s.printed_name,
            "meaning": s.meaning,
            "signed_at": s.signed_at,
            "content_sha256": s.content_sha256,
            "voided_at": s.voided_at,
            "void_reason": s.void_reason,
        }
        for s in qs
    ]


def _name(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _lock_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for lock in CasebookLock.objects.select_related("participant", "locked_by", "unlock_approved_by"):
        pid = lock.participant.participant_id
        rows.append(
            {"event": "casebook locked", "participant_id": pid, "at": lock.locked_at, "by": _name(lock.locked_by)}
        )
        if lock.unlocked_at:
            rows.append(
                {
                    "event": "casebook unlocked",
                    "participant_id": pid,
                    "at": lock.unlocked_at,
                    "by": _name(lock.unlock_approved_by),
                    "change_reason": lock.unlock_reason,
                }
            )
    for db in DatabaseLock.objects.select_related("data_manager_approved_by", "statistician_approved_by"):
        if db.data_manager_approved_at:
            rows.append(
                {
                    "event": "database lock approved (data manager)",
                    "at": db.data_manager_approved_at,
                    "by": _name(db.data_manager_approved_by),
                }
            )
        if db.statistician_approved_at:
            rows.append(
                {
                    "event": "database lock approved (statistician)",
                    "at": db.statistician_approved_at,
                    "by": _name(db.statistician_approved_by),
                }
            )
        if db.locked_at:
            rows.append({"event": "database locked", "at": db.locked_at})
        if db.unlocked_at:
            rows.append({"event": "database unlocked", "at": db.unlocked_at, "change_reason": db.unlock_reason})
    for u in StudyUnblinding.objects.select_related("declared_by", "approved_by"):
        rows.append({"event": "study unblinding declared", "at": u.declared_at, "by": _name(u.declared_by)})
        if u.approved_at:
            rows.append({"event": "study unblinding approved", "at": u.approved_at, "by": _name(u.approved_by)})
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r["at"] or far_past, r["event"]))


def _audit_rows(user: Any, codes: list[str]) -> list[dict[str, Any]]:
    """One row per history snapshot of the records of the datasets this user may export.

    The same blind as the datasets: history of hidden labs (post-baseline arm-revealing analytes) and
    of adverse events for the roles that may not see them is left out, and the pharmacy's records
    are never in it for a blinded user."""
    hidden_labs = blinding.hidden_lab_analytes_for(user)
    visits = _visit_index()
    participants = dict(Participant.objects.values_list("pk", "participant_id"))
    usernames = _usernames()
    rows: list[dict[str, Any]] = []
    for ds in DATASETS:
        if ds.model is None or ds.code not in codes or ds.code in {"dq", "dqhist"}:
            continue
        history = ds.model.history.model  # type: ignore[attr-defined]
        # Old -> new for the fields the dataset exports (and the void), nothing it leaves out.
        exported = {_attname(ds.model, v.source) for v in variables(ds.code)} | {"voided_at", "void_reason"}
        previous: dict[Any, dict[str, Any]] = {}
        for snap in history.objects.order_by("id", "history_date", "history_id").values():
            visit = visits.get(snap.get("visit_id"))
            if ds.model is LabResult and hidden_labs and snap["analyte"] in hidden_labs and visit and visit[1] > 0:
                continue
            pid = participants.get(snap.get("participant_id")) if "participant_id" in snap else None
            if ds.model is Participant:
                pid = snap["participant_id"]
            elif visit is not None:
                pid = visit[0]
            before = previous.get(snap["id"], {})
            changes = [
                f"{k}: {'' if before.get(k) is None else before.get(k)!s} -> {'' if v is None else v!s}"
                for k, v in snap.items()
                if k in exported and before.get(k) != v and (before or v not in (None, ""))
            ]
            previous[snap["id"]] = snap
            rows.append(
                {
                    "dataset": ds.code,
                    "record_id": snap["id"],
                    "participant_id": pid,
                    "history_id": snap["history_id"],
                    "history_date": snap["history_date"],
                    "history_user": usernames.get(snap.get("history_user_id"), ""),
                    "history_type": _HISTORY_TYPES.get(snap["history_type"], snap["history_type"]),
                    "version": snap.get("version"),
                    "change_reason": snap.get("history_change_reason") or "",
                    "changes": "; ".join(changes),
                }
            )
    return sorted(rows, key=lambda r: (r["participant_id"] or "", r["history_date"], r["history_id"]))


_HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def _attname(model: type[models.Model], source: str) -> str:
    try:
        return str(model._meta.get_field(source).attname)  # type: ignore[union-attr]
    except Exception:
        return source


def _usernames() -> dict[Any, str]:
    from django.contrib.auth import get_user_model

    return dict(get_user_model().objects.values_list("pk", "username"))


def _visit_index() -> dict[int, tuple[str, int]]:
    from trial.visits.models import Visit

    return {
        pk: (pid, week)
        for pk, pid, week in Visit.objects.values_list("pk", "participant__participant_id", "definition__week")
    }


def _pharmacy_rows(user: Any) -> list[dict[str, Any]]:
    qs = (
        Preparation.objects.active()
        .filter(scope.site_filter(user, "visit__participant__site"))
        .select_related("visit__participant__allocation__entry", "visit__definition", "lot")
        .order_by("visit__participant__participant_id", "visit__definition__week", "pk")
    )
    preparations = list(qs)
    arms = blinding.arm_codes(user, {p.visit.participant for p in preparations})
    return [
        {
            "participant_id": p.visit.participant.participant_id,
            "visit_code": p.visit.definition.code,
            "week": p.visit.definition.week,
            "visit_date": p.visit.actual_date,
            "record_id": p.pk,
            "version": p.version,
            "kit_id": p.kit_id,
            "arm": arms[p.visit.participant.pk],
            "weight_kg": p.weight_kg,
            "dose_mg": p.dose_mg,
            "vials": p.vials,
            "volume_ml": p.volume_ml,
            "lot_number": p.lot.lot_number if p.lot else "",
            "saline_lot": p.saline_lot,
            "prepared_at": p.prepared_at,
            "status": p.status,
            "dispensed_at": p.dispensed_at,
        }
        for p in preparations
    ]


def _mmrm_rows(user: Any, include_arm: bool) -> list[dict[str, Any]]:
    df = frames.hamd_long_frame(user=user, include_arm=include_arm)
    return [dict(r) for r in df.to_dict("records")]


def dataset_table(code: str, *, user: Any, include_arm: bool = False, audit_codes: list[str] | None = None) -> Table:
    """One dataset as this user may see it. Raises PermissionDenied for a dataset or an arm they may not have."""
    allowed = {d.code: d for d in datasets_for(user)}
    if code not in DATASETS_BY_CODE:
        raise KeyError(code)
    if code not in allowed:
        raise PermissionDenied("Your role does not allow this dataset.")
    if include_arm and not may_include_arm(user):
        raise PermissionDenied("This export cannot include the treatment arm for a blinded user.")
    ds = allowed[code]
    vars_ = variables(code)
    with_arm = include_arm and code in {"dm", "mmrm"}
    if code == "dm":
        rows = _dm_rows(user, with_arm)
    elif code == "dqhist":
        rows = _query_history_rows(user)
    elif code == "sig":
        rows = _signature_rows()
    elif code == "lock":
        rows = _lock_rows()
    elif code == "audit":
        rows = _audit_rows(user, audit_codes if audit_codes is not None else list(allowed))
    elif code == "pharm":
        rows = _pharmacy_rows(user)
    elif code == "mmrm":
        rows = _mmrm_rows(user, with_arm)
    else:
        rows = _model_rows(ds, user)
    if with_arm:
        vars_ = (*vars_, arm_variable())
    return Table(code=code, label=ds.label, variables=vars_, frame=_frame(vars_, rows))


__all__ = ["CHAR", "DATE", "DATETIME", "NUM", "Table", "dataset_table", "datasets_for", "may_include_arm"]
