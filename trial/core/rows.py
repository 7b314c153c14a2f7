"""Many rows written in few statements, for the audited bulk writes (trial.core.services).

Django's `bulk_create` and `bulk_update` compile every value through the query compiler: profiled
over a seeding of 1,000 participants, building the INSERT statements took more time than running
them, and a quarter of the whole. Here each value is converted by its own field for the database
(`get_db_prep_save`, after `pre_save`, as a save converts it) and the statement is written once per
batch. These functions only write: the validation, the history rows and the audit seals stay with
the callers, which run them as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)


# Fields whose value, of the one Python type each takes, goes to the database as it is (text, a
# boolean) or through the backend's integer adaptation only: for these `_column_value` skips the
# field's generic conversion chain, which profiled at several microseconds a value. Exact classes,
# not subclasses, which may convert differently; any other type or field takes the full conversion.
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
            return check(value) if type(value) is int else full(obj)

        return key
    if integer_type is not None:
        adapt = connection.ops.adapt_integerfield_value

        def integer(obj: Any) -> Any:
            value = getattr(obj, attname)
            return adapt(value, integer_type) if type(value) is int else full(obj)

        return integer
    as_is = _AS_IS.get(kind)
    if as_is is not None:

        def plain(obj: Any) -> Any:
            value = getattr(obj, attname)
            return value if type(value) is as_is else full(obj)

        return plain
    return full


def rows_insert(objs: Sequence[M]) -> list[M]:
    """Insert new rows of one model, in as few statements as the database takes, and give each object
    its primary key (the database's RETURNING, in the order of the rows, as `bulk_create` relies on).

    Only for a model whose primary key the database assigns; the objects become saved instances."""
    objs = list(objs)
    if not objs:
        return []
    model = type(objs[0])
    opts = model._meta
    pk = opts.pk
    if any(type(o) is not model for o in objs):
        raise ValueError("rows_insert takes rows of one model.")
    if not isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField) or any(
        o.pk is not None for o in objs
    ):
        raise ValueError("rows_insert takes new rows whose key the database assigns.")
    using = router.db_for_write(model)
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover - SQLite 3.35+ and PostgreSQL can
        raise RuntimeError("rows_insert needs a database that returns the keys of a multi-row INSERT.")
    fields = [f for f in opts.concrete_fields if f is not pk and not getattr(f, "generated", False)]
    converters = [_converter(f, connection) for f in fields]
    qn = connection.ops.quote_name
    one = "({})".format(", ".join(["%s"] * len(fields)))
    # The model's own table and column names; every value is a parameter.
    head = "INSERT INTO {} ({}) VALUES ".format(qn(opts.db_table), ", ".join(qn(f.column) for f in fields))  # noqa: S608
    returning = f" RETURNING {qn(pk.column)}"
    size = max(1, connection.ops.bulk_batch_size(fields, objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params: list[Any] = []
            for obj in batch:
                params.extend(convert(obj) for convert in converters)
            cursor.execute(head + ", ".join([one] * len(batch)) + returning, params)
            keys = cursor.fetchall()
            if len(keys) != len(batch):
                raise RuntimeError(f"{model.__name__}: {len(keys)} keys returned for {len(batch)} rows.")
            for obj, (key,) in zip(batch, keys, strict=True):
                obj.pk = pk.to_python(key)
                obj._state.adding = False
                obj._state.db = using
    return objs


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
