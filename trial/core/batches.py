"""Long lists of ids sent to the database in batches.

SQLite refuses a statement with more than 32,766 bound values ("too many SQL variables"), and a
10,000-participant trial has hundreds of thousands of records: a `pk__in=[...]` over every record
of a dataset would fail there, and on PostgreSQL it makes one very long statement. Reads that
filter by a list of ids of unbounded length go through `in_batches`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

# Well under SQLite's limit, leaving room for the statement's other parameters.
BATCH = 10_000


def in_batches(values: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """The values in lists of at most `size`, in their order."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
