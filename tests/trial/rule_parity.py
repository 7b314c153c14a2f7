"""The check behind every test_rules_parity.py: one input, given to a model and to its form.

A rule lives once (an app's rules.py) and is applied by the model's clean() and by the form. These
helpers give the same typed input to both and return each side's messages by field, so a test can
say: the same message, on the same field, from both; or nothing from either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


def model_errors(
    model: type[models.Model], data: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None
) -> dict[str, list[str]]:
    """full_clean() of an unsaved instance built from `data`; fields not in `data` are not checked on their own.

    Values are given as a form would receive them (strings): the model's own field cleaning turns
    them into dates and numbers, as the form does. `extra` sets fields the form does not have
    (a visit's status), without checking them on their own.
    """
    fields = {f.name: f for f in model._meta.concrete_fields}
    names = set(fields)
    # An empty box is None to a form; a model leaves a blank value as it is, so give it None too.
    values = {k: None if v == "" and not fields[k].empty_strings_allowed else v for k, v in data.items() if k in fields}
    instance = model(**values, **(extra or {}))
    try:
        instance.full_clean(exclude=names - set(values), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    form.is_valid()
    return {k: list(v) for k, v in form.errors.items()}


def assert_same_rule(
    *,
    form: forms.Form,
    model: type[models.Model],
    data: Mapping[str, Any],
    field: str | None,
    message: str | None,
    to_model: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """`message` on `field` from both sides, or (message None) no error from either.

    `to_model` renames the form's fields to the model's (e.g. end_reason -> reason).
    """
    to_model = dict(to_model or {})
    on_form = form_errors(form)
    on_model = model_errors(model, {to_model.get(k, k): v for k, v in data.items()}, extra=extra)
    if message is None:
        assert on_form == {}, on_form
        assert on_model == {}, on_model
        return
    assert field is not None
    assert message in on_form.get(field, []), on_form
    assert message in on_model.get(to_model.get(field, field), []), on_model
