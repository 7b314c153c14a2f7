"""Stratified permuted-block list generation (Design: Randomization). Pure and seeded: no Django.

The same seed and parameters always give the same list, so the unblinded statistician can
regenerate and verify it outside the system.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedEntry:
    stratum: str
    sequence: int
    block_number: int
    block_size: int
    arm: str
    randomization_number: str


def generate_list(
    *,
    strata: Sequence[str],
    arms: Sequence[str],
    ratio: Sequence[int],
    block_sizes: Sequence[int],
    per_stratum: int,
    seed: int,
) -> list[PlannedEntry]:
    """Permuted blocks per stratum; each stratum gets at least `per_stratum` entries (whole blocks).

    With more than one block size, each block's size is drawn at random from `block_sizes`, which
    makes the end of a block harder to predict.
    """
    unit = sum(ratio)
    if any(b % unit for b in block_sizes):
        raise ValueError(f"Every block size must be a multiple of {unit} to keep arms balanced.")
    rng = random.Random(seed)
    entries: list[tuple[str, int, int, int, str]] = []
    for stratum in strata:
        sequence, block_number = 0, 0
        while sequence < per_stratum:
            size = rng.choice(list(block_sizes))
            block = [arm for arm, r in zip(arms, ratio, strict=True) for _ in range(r * size // unit)]
            rng.shuffle(block)
            block_number += 1
            for arm in block:
                sequence += 1
                entries.append((stratum, sequence, block_number, size, arm))
    # Randomization numbers are a random permutation drawn after the arms, from their own stream,
    # so they carry no information about the arm, the stratum or the position in a block.
    numbers = random.Random(f"{seed}-numbers").sample(range(1000, 100000), len(entries))
    return [
        PlannedEntry(s, q, b, z, a, f"R{n:05d}") for (s, q, b, z, a), n in zip(entries, numbers, strict=True)
    ]


def list_digest(entries: Iterable[tuple[str, int, int, int, str, str]]) -> str:
    """SHA-256 over the canonical rows (stratum, sequence, block, block size, arm, number), in order."""
    h = hashlib.sha256()
    for row in sorted(entries, key=lambda r: (r[0], r[1])):
        h.update(("|".join(str(x) for x in row) + "\n").encode())
    return h.hexdigest()
