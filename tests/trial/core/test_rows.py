"""The fast row writes of the audited bulk paths (trial.core.rows): each value goes to the database as
the field's own conversion would send it, each row gets its key, and a row that is not there is not
silently skipped (ICH E6(R3) data integrity: what is stored is what was entered)."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection, models

from trial.core.rows import _converter, rows_insert, rows_update
from trial.protocol.models import VisitDefinition
from trial.safety.models import AdverseEvent
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db

# Values of the right type and of the wrong one, and none: the fast path takes the first kind only.
SAMPLES: dict[type[models.Field], list[Any]] = {  # type: ignore[type-arg]  # any field class
    # Before DateField: a DateTimeField is one. UTC, another zone, naive (the field warns and makes it
    # aware), a bare date, text, none.
    models.DateTimeField: [
        datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 7, 4, 23, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 3, 4, 5, 6, 7),
        date(2026, 3, 4),
        "2026-03-04 05:06:07",
        None,
    ],
    models.DateField: [date(2026, 3, 4), datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "2026-03-04", None],
    models.DecimalField: [Decimal("3.40"), Decimal("1E+1"), Decimal("-0.5"), Decimal("NaN"), 3.4, "2.5", 7, "x", None],
    models.FloatField: [2.5, 0.0, 3, "1.5", None],
    models.IntegerField: [0, 7, -3, None, True, "5", 2.0],
    models.CharField: ["abc", "", None, 5, True],
    models.BooleanField: [True, False, None, 1, 0],
    models.ForeignKey: [3, None, "4", True],
}


def _samples(field: models.Field) -> list[Any]:  # type: ignore[type-arg]  # any field
    for kind, values in SAMPLES.items():
        if isinstance(field, kind):
            return values
    if isinstance(field, models.TextField):
        return SAMPLES[models.CharField]
    return []


def _stratum_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m.__module__.startswith("trial.") and not m._meta.abstract]


def test_every_field_of_every_model_converts_as_the_field_itself_does() -> None:
    checked = 0
    for model in _stratum_models():
        obj = model()
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                continue  # pre_save moves with the clock: not fast-pathed
            convert = _converter(field, connection)
            for value in _samples(field):
                setattr(obj, field.attname, value)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # a naive datetime: warned either way
                        expected = field.get_db_prep_save(field.pre_save(obj, True), connection)
                except Exception as exc:  # the field refuses it: so must the converter, the same way
                    with pytest.raises(type(exc)):
                        convert(obj)
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        got = convert(obj)
                    assert got == expected, (model.__name__, field.name, value)
                    assert type(got) is type(expected), (model.__name__, field.name, value)
                checked += 1
    # Every model of the project was looked at, with many fields each (not an empty loop).
    assert checked > 1000


def test_rows_insert_gives_each_row_its_key_in_order_and_stores_the_values(enrolled_a_month_ago: Any) -> None:
    p = enrolled_a_month_ago
    rows = [
        AdverseEvent(participant=p, term=f"Headache {i}", onset_date=date(2026, 1, i + 1), severity="mild")
        for i in range(3)
    ]
    written = rows_insert(rows)
    assert written == rows and [r.pk for r in rows] == sorted(r.pk for r in rows)
    for i, row in enumerate(rows):
        assert not row._state.adding and row._state.db == "default"
        stored = AdverseEvent.objects.get(pk=row.pk)
        assert (stored.term, stored.onset_date, stored.participant_id) == (f"Headache {i}", date(2026, 1, i + 1), p.pk)
        # auto_now_add and auto_now were applied, as a save applies them
        assert stored.created_at is not None and stored.updated_at is not None


def test_rows_insert_many_rows_over_several_statements_keeps_the_order(enrolled_a_month_ago: Any) -> None:
    # More rows than one statement takes (999 parameters on SQLite), each told apart by its term.
    rows = [
        AdverseEvent(participant=enrolled_a_month_ago, term=f"Event {i}", onset_date=date(2026, 1, 1), severity="mild")
        for i in range(200)
    ]
    # SQLite takes a limited number of parameters per statement (PostgreSQL none): several statements there.
    limit = connection.features.max_query_params
    assert limit is None or len(rows) * len(AdverseEvent._meta.concrete_fields) > 3 * limit
    rows_insert(rows)
    stored = dict(AdverseEvent.objects.values_list("pk", "term"))
    assert [stored[r.pk] for r in rows] == [f"Event {i}" for i in range(200)]


def test_rows_insert_refuses_rows_it_cannot_key(enrolled_a_month_ago: Any) -> None:
    visit = enrolled_a_month_ago.visits.first()
    with pytest.raises(ValueError, match="new rows"):
        rows_insert([visit])  # already has its key
    with pytest.raises(ValueError, match="one model"):
        rows_insert([Visit(), VisitDefinition()])
    assert rows_insert([]) == []


def test_rows_update_writes_the_fields_and_refuses_a_row_that_is_not_there(enrolled_a_month_ago: Any) -> None:
    visits = list(enrolled_a_month_ago.visits.order_by("pk")[:3])
    for v in visits:
        v.reason = f"changed {v.pk}"
        v.scheduled_date = date(2027, 2, 2)
    rows_update(visits, ["reason", "scheduled_date"])
    for v in visits:
        stored = Visit.objects.get(pk=v.pk)
        assert (stored.reason, stored.scheduled_date) == (f"changed {v.pk}", date(2027, 2, 2))
    ghost = Visit(pk=10**9, reason="nowhere")
    with pytest.raises(RuntimeError, match="1 rows updated of 2"):
        rows_update([visits[0], ghost], ["reason"])
