"""Many rows written in few statements, for the audited bulk writes (trial.core.services).

Django's `bulk_create` and `bulk_update` compile every value through the query compiler: profiled
over a seeding of 1,000 participants, building the INSERT statements took more time than running
them, and a quarter of the whole. Here each value is converted by its own field for the database
(`get_db_prep_save`, after `pre_save`, as a save converts it) and the statement is written once per
batch. These functions only write: the validation, the history rows and the audit seals stay with
the callers, which run them as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)


# Fields whose value, of the one Python type each takes, goes to the database as it is (text, a
# boolean, a float) or through the backend's integer, decimal, date or datetime adaptation only: for
# these `_converter` skips the field's generic conversion chain, which profiled at several
# microseconds a value. Exact classes, not subclasses, which may convert differently; any other type
# or field takes the full conversion. None goes as NULL, which is what the full conversion of each of
# these gives it (the equivalence test in tests/trial/core/test_rows.py checks every case).
_INTEGERS: frozenset[type[models.Field]] = frozenset(  # type: ignore[type-arg]  # any field class
    {
        models.IntegerField,
        models.SmallIntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
    }
)
_AS_IS: dict[type[models.Field], type] = {models.CharField: str, models.TextField: str, models.BooleanField: bool}  # type: ignore[type-arg]  # any field class
_AUTO_KEYS = frozenset({models.AutoField, models.BigAutoField, models.SmallAutoField})


def _converter(f: Any, connection: Any) -> Any:
    """A function from an object to the database value of its field `f` for an INSERT: the same value
    as `f.get_db_prep_save(f.pre_save(obj, True), connection)`."""
    attname = f.attname

    def full(obj: Any) -> Any:
        return f.get_db_prep_save(f.pre_save(obj, True), connection)

    kind = type(f)
    integer_type = None
    if kind in _INTEGERS:
        integer_type = f.get_internal_type()
    elif kind is models.ForeignKey and type(f.target_field) in _INTEGERS:
        integer_type = f.target_field.get_internal_type()
    elif kind is models.ForeignKey and type(f.target_field) in _AUTO_KEYS:
        # A key the database assigned goes as it is (AutoFieldMixin.get_db_prep_value), after the
        # backend's check of it.
        check = connection.ops.validate_autopk_value

        def key(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            return check(value) if type(value) is int else full(obj)

        return key
    if integer_type is not None:
        adapt = connection.ops.adapt_integerfield_value

        def integer(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            return adapt(value, integer_type) if type(value) is int else full(obj)

        return integer
    if kind is models.DateTimeField and not (f.auto_now or f.auto_now_add):
        return _datetime_converter(attname, connection, full)
    if kind is models.DateField and not (f.auto_now or f.auto_now_add):
        adapt_date = connection.ops.adapt_datefield_value

        def day(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            return adapt_date(value) if type(value) is date else full(obj)

        return day
    as_is = _AS_IS.get(kind)
    if as_is is not None:

        def plain(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            return value if type(value) is as_is else full(obj)

        return plain
    if kind is models.DecimalField:
        # DecimalField.to_python of a finite Decimal is an equal Decimal (same digits, same exponent).
        adapt_decimal = connection.ops.adapt_decimalfield_value
        digits, places = f.max_digits, f.decimal_places

        def decimal(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            if type(value) is Decimal and value.is_finite():
                return adapt_decimal(value, digits, places)
            return full(obj)

        return decimal
    if kind is models.FloatField:

        def floating(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            return value if type(value) is float else full(obj)

        return floating
    return full


def _datetime_converter(attname: str, connection: Any, full: Any) -> Any:
    """None is stored as NULL. An aware datetime is its own prepared value (DateTimeField.get_prep_value
    changes only a naive one); the backend then adapts it. On SQLite in UTC that is the naive UTC time as text
    (`adapt_datetimefield_value`: make_naive, then str), which a datetime already in UTC gives without
    the conversion; naive values and any other type take the field's own path (its warning included)."""
    if connection.vendor == "sqlite" and connection.timezone is UTC and settings.USE_TZ:

        def utc_text(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None:
                return None
            if type(value) is datetime and value.tzinfo is UTC:
                return str(value.replace(tzinfo=None))
            return full(obj)

        return utc_text
    adapt = connection.ops.adapt_datetimefield_value

    def aware(obj: Any) -> Any:
        value = getattr(obj, attname)
        if value is None:
            return None
        if type(value) is datetime and value.tzinfo is not None and value.utcoffset() is not None:
            return adapt(value)
        return full(obj)

    return aware


def rows_insert(objs: Sequence[M]) -> list[M]:
    """Insert new rows of one model, in as few statements as the database takes, and give each object
    its primary key (the database's RETURNING, in the order of the rows, as `bulk_create` relies on).

    Only for a model whose primary key the database assigns; the objects become saved instances."""
    objs = list(objs)
    if not objs:
        return []
    model = type(objs[0])
    if any(type(o) is not model for o in objs):
        raise ValueError("rows_insert takes rows of one model.")
    if any(o.pk is not None for o in objs):
        raise ValueError("rows_insert takes new rows whose key the database assigns.")
    connection = connections[router.db_for_write(model)]
    fields = insert_fields(model)
    converters = converters_for(fields, model)
    keys = values_insert(model, fields, [[convert(obj) for convert in converters] for obj in objs])
    pk = model._meta.pk
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = pk.to_python(key)
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def insert_fields(model: type[models.Model]) -> list[Any]:
    """The columns an insert of `model` writes: every concrete one but the key the database assigns."""
    opts = model._meta
    pk = opts.pk
    if not isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
        raise ValueError(f"{model.__name__}: rows are inserted only into a model whose key the database assigns.")
    return [f for f in opts.concrete_fields if f is not pk and not getattr(f, "generated", False)]


def converters_for(fields: Sequence[Any], model: type[models.Model]) -> list[Any]:
    """`_converter` of each field, for the database `model` is written to: made once per thread's
    connection and model (the converters hold the connection; each thread has its own)."""
    connection = connections[router.db_for_write(model)]
    cache: dict[tuple[Any, ...], tuple[Any, list[Any]]] | None = getattr(_made, "cache", None)
    if cache is None:
        cache = _made.cache = {}
    key = (model, *fields)
    made = cache.get(key)
    if made is None or made[0] is not connection:
        made = cache[key] = (connection, [_converter(f, connection) for f in fields])
    return made[1]


_made = threading.local()


def values_insert(model: type[models.Model], fields: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Insert rows of database-ready values (each row the values of `fields`, in order, as `_converter`
    gives them) and return their keys, in the order of the rows."""
    if not rows:
        return []
    opts = model._meta
    pk = opts.pk
    connection = connections[router.db_for_write(model)]
    if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover - SQLite 3.35+ and PostgreSQL can
        raise RuntimeError("rows_insert needs a database that returns the keys of a multi-row INSERT.")
    qn = connection.ops.quote_name
    one = "({})".format(", ".join(["%s"] * len(fields)))
    # The model's own table and column names; every value is a parameter.
    head = "INSERT INTO {} ({}) VALUES ".format(qn(opts.db_table), ", ".join(qn(f.column) for f in fields))  # noqa: S608
    returning = f" RETURNING {qn(pk.column)}"
    size = max(1, connection.ops.bulk_batch_size(list(fields), list(rows)))
    keys: list[Any] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            params: list[Any] = []
            for row in batch:
                if len(row) != len(fields):
                    raise ValueError(f"{model.__name__}: a row of {len(row)} values for {len(fields)} columns.")
                params.extend(row)
            cursor.execute(head + ", ".join([one] * len(batch)) + returning, params)
            returned = cursor.fetchall()
            if len(returned) != len(batch):
                raise RuntimeError(f"{model.__name__}: {len(returned)} keys returned for {len(batch)} rows.")
            keys.extend(key for (key,) in returned)
    return keys


def rows_update(objs: Sequence[M], fields: Sequence[str]) -> None:
    """Write `fields` of saved rows of one model: one parameterised UPDATE per row, sent as one batch
    (executemany). Django's `bulk_update` builds a CASE expression per field over every row instead,
    which cost more than the rest of the save together."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    opts = model._meta
    using = router.db_for_write(model)
    connection = connections[using]
    qn = connection.ops.quote_name
    wanted = set(fields)
    columns = [f for f in opts.concrete_fields if f.name in wanted]
    if len(columns) != len(wanted):
        raise ValueError(
            f"rows_update: {sorted(wanted - {f.name for f in columns})} are not columns of {model.__name__}."
        )
    # The model's own table and column names; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        qn(opts.db_table), ", ".join(f"{qn(f.column)} = %s" for f in columns), qn(opts.pk.column)
    )
    params = [
        [f.get_db_prep_save(getattr(o, f.attname), connection) for f in columns]
        + [opts.pk.get_db_prep_save(o.pk, connection)]
        for o in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        if cursor.rowcount not in (-1, len(objs)):
            raise RuntimeError(f"{model.__name__}: {cursor.rowcount} rows updated of {len(objs)}.")
