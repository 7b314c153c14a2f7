"""Walk every URL pattern of the project and fill its kwargs from the data in the database.

A pattern whose kwargs cannot be filled is reported as unfillable, and the scan FAILS on it: a new
page must teach this module how to reach it (add to EXPLICIT below), so no page escapes the scan.

How a kwarg is filled, first rule that applies:
1. EXPLICIT: a small table for kwargs that are not database objects (admin's app_label, exports'
   dataset, admin's catch-all url, the content type of admin's view-on-site).
2. pk / id / object_id: objects of the view's model (admin: model_admin.model; class-based views and
   DRF views: .model or .queryset.model).
3. A name that is a unique field of some model (e.g. participant_id on Participant): that field's values.
4. <model>_pk / <model>_id / <model>: objects of the model of that name.
For each model, objects are sampled across both arms where they belong to a participant, so each
page is seen for an infliximab and a placebo participant.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern


@dataclass(frozen=True)
class Leaf:
    route: str  # the pattern as written, joined from the root
    parts: tuple[Any, ...]  # the pattern objects, root first
    callback: Callable[..., Any]
    name: str | None


def iter_leaves(patterns: list[Any] | None = None, parts: tuple[Any, ...] = (), ns: str = "") -> Iterator[Leaf]:
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            sub_ns = f"{ns}{p.namespace}:" if p.namespace else ns
            yield from iter_leaves(p.url_patterns, (*parts, p.pattern), sub_ns)
        elif isinstance(p, URLPattern):
            all_parts = (*parts, p.pattern)
            yield Leaf("".join(str(x) for x in all_parts), all_parts, p.callback, f"{ns}{p.name}" if p.name else None)


def kwarg_names(leaf: Leaf) -> list[str]:
    names: list[str] = []
    for part in leaf.parts:
        if isinstance(part, RoutePattern):
            names += list(part.converters)
        elif isinstance(part, RegexPattern) and part.regex.pattern == SIMPLE_HISTORY_ITEM:
            # simple-history's audit page for one snapshot: positional (object id, history id).
            names += ["_object", "_history"]
        elif isinstance(part, RegexPattern):
            names += list(part.regex.groupindex)
    return names


def _history_pairs(leaf: Leaf, k: int = 4) -> list[tuple[str, str]]:
    model = view_model(leaf.callback)
    if model is None or not hasattr(model, "history"):
        return []
    pks = sample(model, k=k)
    pairs = model.history.filter(id__in=pks).order_by("id", "-history_id").values_list("id", "history_id")
    return [(str(a), str(b)) for a, b in pairs][: k * 2]


def view_model(callback: Any) -> type[models.Model] | None:
    admin = getattr(callback, "model_admin", None) or getattr(getattr(callback, "__wrapped__", None), "__self__", None)
    if admin is not None and not hasattr(admin, "model"):
        admin = None
    if admin is not None:
        return admin.model
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    for source in (cls, callback):
        model = getattr(source, "model", None)
        if isinstance(model, type) and issubclass(model, models.Model):
            return model
        qs = getattr(source, "queryset", None)
        if qs is not None and hasattr(qs, "model"):
            return qs.model
    return None


def _regex_alternatives(leaf: Leaf, name: str) -> list[str]:
    for part in leaf.parts:
        if isinstance(part, RegexPattern) and name in part.regex.groupindex:
            m = re.search(rf"\(\?P<{name}>([^)]*)\)", part.regex.pattern)
            if m and re.fullmatch(r"[\w|]+", m.group(1)):
                return m.group(1).split("|")
    return []


# Apps whose tables may be empty in the scan's world: a page for a missing object shows no data, so
# it is visited with pk 0. Every other model (the clinical ones) must have rows: build them in world.py.
MAY_BE_EMPTY_APPS = {"admin", "auth", "contenttypes", "sessions", "django_celery_results", "protocol"}
SIMPLE_HISTORY_ITEM = "^([^/]+)/history/([^/]+)/$"


def _explicit(leaf: Leaf, name: str) -> list[str] | None:
    from django.contrib.auth import get_user_model

    if name == "id" and "core/user/" in leaf.route:  # UserAdmin's password page is not wrapped with model_admin
        return [str(pk) for pk in get_user_model().objects.order_by("pk").values_list("pk", flat=True)[:2]]
    if name == "object_id" and "content_type_id" in kwarg_names(leaf):
        from trial.participants.models import Participant

        return sample(Participant)
    if name == "app_label":
        return _regex_alternatives(leaf, name)
    if name == "url":  # admin's catch-all: a page that does not exist
        return ["no-such-page/"]
    if name == "content_type_id":  # admin's view-on-site redirect
        from django.contrib.contenttypes.models import ContentType

        from trial.participants.models import Participant

        return [str(ContentType.objects.get_for_model(Participant).pk)]
    if name == "dataset":  # analysis exports (CSV) and the export datasets (API)
        from analysis import frames
        from trial.exports.dictionary import DATASETS_BY_CODE

        return sorted(frames.DATASETS) + sorted(DATASETS_BY_CODE)
    return None


def _participant_path(model: type[models.Model]) -> str | None:
    from trial.participants.models import Participant

    if model is Participant:
        return ""
    names = {f.name for f in model._meta.get_fields()}
    for path in ("participant", "visit__participant", "lot__preparations__visit__participant"):
        if path.split("__")[0] in names:
            return path + "__"
    return None


# While set (`only_site`), objects are sampled from the participants of this site only, and models that
# belong to no participant give no values: the scan then visits one site's participants' URLs only.
_ONLY_SITE: list[int] = []


@contextmanager
def only_site(site_id: int) -> Iterator[None]:
    _ONLY_SITE.append(site_id)
    try:
        yield
    finally:
        _ONLY_SITE.pop()


def sample(model: type[models.Model], attr: str = "pk", k: int = 4) -> list[str]:
    """Up to k values of `attr`, half from infliximab and half from placebo participants where possible."""
    from trial.randomization.models import ListEntry

    qs = model._default_manager.order_by("pk")
    path = _participant_path(model)
    if _ONLY_SITE:
        if path is None:
            return []
        qs = qs.filter(**{f"{path}site_id": _ONLY_SITE[-1]})
    values: list[Any] = []
    if path is not None:
        for arm in ("IFX", "PBO"):
            entry_ids = ListEntry.objects.filter(arm=arm, allocation__isnull=False).values("pk")
            sub = qs.filter(**{f"{path}allocation__entry__in": entry_ids}).values_list(attr, flat=True).distinct()
            values += list(sub[: k // 2])
    values += [v for v in qs.values_list(attr, flat=True)[:k] if v not in values]
    if not values and model._meta.app_label in MAY_BE_EMPTY_APPS:
        values = [0]
    return [str(v) for v in values[:k]]


# Route words that do not name their model (add here when a new page needs it).
ROUTE_WORDS = {
    "conmeds": ("safety", "concomitantmedication"),
    "lots": ("pharmacy", "druglot"),
    "analysis": ("analysis", "analysisrun"),
}


def _model_from_route(leaf: Leaf, name: str) -> type[models.Model] | None:
    """For `<int:pk>` in ".../adverse-events/<int:pk>/", the model named by the word before it,
    preferring the app of the URL's namespace (safety:ae_edit -> safety.AdverseEvent)."""
    m = re.search(rf"([\w-]+)/<(?:\w+:)?{name}>", leaf.route)
    if not m:
        return None
    word = m.group(1)
    if word in ROUTE_WORDS:
        return apps.get_model(*ROUTE_WORDS[word])
    flat = word.replace("-", "").replace("_", "")
    singular = flat[:-3] + "y" if flat.endswith("ies") else flat.removesuffix("s")
    namespace = (leaf.name or "").split(":")[0]
    ranked = sorted(apps.get_models(), key=lambda mdl: mdl._meta.app_label != namespace)
    for mdl in ranked:
        if mdl._meta.model_name == singular:
            return mdl
    for mdl in ranked:
        if mdl._meta.model_name.endswith(singular) and mdl._meta.app_label == namespace:
            return mdl
    return None


def _model_by_name(name: str) -> type[models.Model] | None:
    flat = name.replace("_", "")
    for m in apps.get_models():
        if m._meta.model_name == flat:
            return m
    return None


def candidates(leaf: Leaf, name: str) -> list[str]:
    explicit = _explicit(leaf, name)
    if explicit is not None:
        return explicit
    model = view_model(leaf.callback)
    if name in ("pk", "id", "object_id") and model is not None:
        return sample(model)
    if name in ("pk", "id"):
        model = _model_from_route(leaf, name)
        if model is not None:
            return sample(model)
    for m in apps.get_models():
        try:
            f = m._meta.get_field(name)
        except Exception:  # noqa: S112 - not a field of this model
            continue
        if getattr(f, "unique", False) and not f.primary_key and isinstance(f, models.CharField):
            return sample(m, attr=name)
    for suffix in ("_pk", "_id", ""):
        if name.endswith(suffix):
            m = _model_by_name(name[: len(name) - len(suffix)] if suffix else name)
            if m is not None:
                return sample(m)
    return []


def build(leaf: Leaf, values: dict[str, str]) -> str:
    out = []
    for part in leaf.parts:
        if isinstance(part, RoutePattern):
            out.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], str(part._route)))
        elif part.regex.pattern == SIMPLE_HISTORY_ITEM:
            out.append(f"{values['_object']}/history/{values['_history']}/")
        else:
            s = part.regex.pattern.lstrip("^").rstrip("$").removesuffix("\\Z")
            for name in part.regex.groupindex:
                s = re.sub(rf"\(\?P<{name}>[^)]*\)", lambda _m, n=name: values[n], s)
            s = s.replace("\\.", ".").replace("\\/", "/")
            if re.search(r"[\\()\[\]^$*+?]", s):
                raise ValueError(f"cannot build a URL from regex {part.regex.pattern!r}")
            out.append(s)
    return "/" + "".join(out)


@dataclass(frozen=True)
class Target:
    leaf: Leaf
    url: str


def targets(max_combos: int = 6) -> tuple[list[Target], list[str]]:
    """Every URL to visit, and the patterns that could not be filled (a failure, not a skip)."""
    found, unfillable = [], []
    for leaf in iter_leaves():
        names = kwarg_names(leaf)
        if "_object" in names:
            pairs = _history_pairs(leaf)
            if not pairs:
                unfillable.append(f"{leaf.route} (name={leaf.name}): no history rows to open")
            found += [Target(leaf, build(leaf, {"_object": a, "_history": b})) for a, b in pairs]
            continue
        options = {n: candidates(leaf, n) for n in names}
        empty = [n for n, v in options.items() if not v]
        if empty:
            unfillable.append(f"{leaf.route} (name={leaf.name}): no values for {', '.join(empty)}")
            continue
        combos = list(itertools.islice(itertools.product(*options.values()), max_combos)) if names else [()]
        for combo in combos:
            values = dict(zip(names, combo, strict=True))
            try:
                url = build(leaf, values)
                match = resolve(url)
            except Exception as exc:
                unfillable.append(f"{leaf.route} (name={leaf.name}): built URL does not resolve: {exc}")
                break
            # A URL shadowed by an earlier pattern still gets visited; the earlier one is scanned too.
            assert match is not None
            found.append(Target(leaf, url))
    return found, unfillable
