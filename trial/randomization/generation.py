"""Stratified permuted-block list generation (Design: Randomization). Pure: no Django.

The list draws from the random source it is given. In the app that is always `list_random()`,
the operating system's randomness: a seed that is typed, shown or derived from anything public can
be replayed, or searched for from arm-revealing data (ICH E9 2.3.3: allocation must be
unpredictable). The list itself and its SHA-256 are stored and verified, never a seed.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
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
    rng: random.Random,
) -> list[PlannedEntry]:
    """Permuted blocks per stratum; each stratum gets at least `per_stratum` entries (whole blocks).

    With more than one block size, each block's size is drawn at random from `block_sizes`, which
    makes the end of a block harder to predict.
    """
    unit = sum(ratio)
    if any(b % unit for b in block_sizes):
        raise ValueError(f"Every block size must be a multiple of {unit} to keep arms balanced.")
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
    # Randomization numbers always come from the operating system's randomness, even when a test
    # passes a seeded source for the arms: blinded users see numbers next to participants, so they
    # must carry nothing of the stream that drew the arms.
    numbers = secrets.SystemRandom().sample(range(1000, 100000), len(entries))
    return [PlannedEntry(s, q, b, z, a, f"R{n:05d}") for (s, q, b, z, a), n in zip(entries, numbers, strict=True)]


def list_random() -> random.Random:
    """The only random source the app gives `generate_list`: os.urandom, no seed to type, show or log."""
    return secrets.SystemRandom()


def list_digest(entries: Iterable[tuple[str, int, int, int, str, str]]) -> str:
    """SHA-256 over the canonical rows (stratum, sequence, block, block size, arm, number), in order."""
    h = hashlib.sha256()
    for row in sorted(entries, key=lambda r: (r[0], r[1])):
        h.update(("|".join(str(x) for x in row) + "\n").encode())
    return h.hexdigest()


# --- Balance and predictability (ICH E9 2.3.3): shown to the statistician before a list is used. ---


@dataclass(frozen=True)
class StratumBalance:
    stratum: str
    length: int
    blocks: int
    per_arm: dict[str, int]
    max_running_imbalance: int


@dataclass(frozen=True)
class StratumPredictability:
    stratum: str
    length: int
    certain: int
    convergence_hits: float

    @property
    def certain_share(self) -> float:
        return self.certain / self.length if self.length else 0.0

    @property
    def convergence_hit_rate(self) -> float:
        return self.convergence_hits / self.length if self.length else 0.0


@dataclass(frozen=True)
class PredictabilityReport:
    strata: tuple[StratumPredictability, ...]

    @property
    def length(self) -> int:
        return sum(s.length for s in self.strata)

    @property
    def certain_share(self) -> float:
        return sum(s.certain for s in self.strata) / self.length if self.length else 0.0

    @property
    def convergence_hit_rate(self) -> float:
        return sum(s.convergence_hits for s in self.strata) / self.length if self.length else 0.0


def _by_stratum(entries: Iterable[PlannedEntry]) -> dict[str, list[PlannedEntry]]:
    out: dict[str, list[PlannedEntry]] = {}
    for e in sorted(entries, key=lambda e: (e.stratum, e.sequence)):
        out.setdefault(e.stratum, []).append(e)
    return out


def balance_preview(entries: Iterable[PlannedEntry], arms: Sequence[str]) -> list[StratumBalance]:
    out = []
    for stratum, rows in _by_stratum(entries).items():
        counts = dict.fromkeys(arms, 0)
        worst = 0
        for e in rows:
            counts[e.arm] = counts.get(e.arm, 0) + 1
            worst = max(worst, max(counts.values()) - min(counts.values()))
        out.append(StratumBalance(stratum, len(rows), len({e.block_number for e in rows}), counts, worst))
    return out


def _quota(size: int, arms: Sequence[str], ratio: Sequence[int]) -> dict[str, int]:
    unit = sum(ratio)
    return {a: r * size // unit for a, r in zip(arms, ratio, strict=True)}


def possible_next_arms(
    history: Sequence[str], *, arms: Sequence[str], ratio: Sequence[int], block_sizes: Sequence[int]
) -> set[str]:
    """The arms that could come next, for someone who knows every earlier arm in the stratum and the
    design (ratio, possible block sizes) but not where the blocks begin or how big they are."""
    quotas = {s: _quota(s, arms, ratio) for s in block_sizes}
    n = len(history)
    # Positions at which a block may have started: the prefix before them splits into whole balanced blocks.
    boundaries = {0}
    for end in range(1, n + 1):
        for start in list(boundaries):
            size = end - start
            if size in quotas and all(history[start:end].count(a) == q for a, q in quotas[size].items()):
                boundaries.add(end)
                break
    possible: set[str] = set()
    for start in boundaries:
        current = history[start:]
        for arm in arms:
            tail = [*current, arm]
            if any(
                len(tail) <= size and all(tail.count(a) <= q for a, q in quota.items())
                for size, quota in quotas.items()
            ):
                possible.add(arm)
    return possible


def predictability_report(
    entries: Iterable[PlannedEntry], *, arms: Sequence[str], ratio: Sequence[int], block_sizes: Sequence[int]
) -> PredictabilityReport:
    """Two measures of how guessable the next allocation is, per stratum (ICH E9 2.3.3):

    - certain: allocations an observer who knows the earlier ones could predict with certainty
      (with fixed blocks of 4, at least the last of every block, often the last two);
    - convergence hits: the expected number of correct guesses when always guessing the arm that is
      behind so far in the stratum (Blackwell-Hodges), a tie counting as a coin toss.
    """
    weights = dict(zip(arms, ratio, strict=True))
    report = []
    for stratum, rows in _by_stratum(entries).items():
        history: list[str] = []
        certain, hits = 0, 0.0
        for e in rows:
            if possible_next_arms(history, arms=arms, ratio=ratio, block_sizes=block_sizes) == {e.arm}:
                certain += 1
            # "Behind": fewest allocations relative to its share of the ratio.
            deficit = {a: history.count(a) / weights[a] for a in arms}
            low = min(deficit.values())
            guesses = [a for a in arms if deficit[a] == low]
            hits += (1 / len(guesses)) if e.arm in guesses else 0.0
            history.append(e.arm)
        report.append(StratumPredictability(stratum, len(rows), certain, hits))
    return PredictabilityReport(tuple(report))


# --- An externally made list, uploaded as CSV (Design: Randomization, made by the study statistician). ---

# A randomization number is a label printed on forms and in exports: letters and digits, with
# hyphens inside, at most 20 characters (generated ones look like R04711). Anything else, such as a
# spreadsheet formula (=..., +..., @...), is refused on upload rather than stored and exported.
RANDOMIZATION_NUMBER_FORMAT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,18}[A-Za-z0-9])?")

CSV_COLUMNS = ("stratum", "sequence", "block_number", "block_size", "arm", "randomization_number")


class ListFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_list_csv(
    text: str, *, strata: Sequence[str], arms: Sequence[str], ratio: Sequence[int]
) -> list[PlannedEntry]:
    """Read and validate a list made elsewhere. Every problem names its CSV row (header = row 1).

    Checks: the columns; every value readable; known strata and arms; every stratum present; no
    duplicate (stratum, sequence) and no gaps; unique randomization numbers; every block complete
    and balanced to the allocation ratio.
    """
    import csv
    import io

    problems: list[str] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ListFileError(
            [f"row 1 (header): missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"]
        )
    entries: list[tuple[int, PlannedEntry]] = []
    seen_seq: dict[tuple[str, int], int] = {}
    seen_number: dict[str, int] = {}
    for rownum, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        where = f"row {rownum}"
        try:
            seq, block, size = int(row["sequence"]), int(row["block_number"]), int(row["block_size"])
        except ValueError:
            problems.append(f"{where}: sequence, block_number and block_size must be whole numbers")
            continue
        if row["stratum"] not in strata:
            problems.append(f"{where}: unknown stratum {row['stratum']!r} (expected one of {', '.join(strata)})")
        if row["arm"] not in arms:
            problems.append(f"{where}: unknown arm code {row['arm']!r} (expected one of {', '.join(arms)})")
        if not row["randomization_number"]:
            problems.append(f"{where}: randomization_number is empty")
        elif not RANDOMIZATION_NUMBER_FORMAT.fullmatch(row["randomization_number"]):
            problems.append(
                f"{where}: randomization_number {row['randomization_number'][:30]!r} is not letters and digits"
                " (hyphens allowed inside, at most 20 characters)"
            )
        if seq < 1:
            problems.append(f"{where}: sequence must start at 1")
        key = (row["stratum"], seq)
        if key in seen_seq:
            problems.append(
                f"{where}: duplicate sequence {seq} in stratum {row['stratum']} (first at row {seen_seq[key]})"
            )
        seen_seq.setdefault(key, rownum)
        number = row["randomization_number"]
        if number and number in seen_number:
            problems.append(f"{where}: duplicate randomization number {number} (first at row {seen_number[number]})")
        seen_number.setdefault(number, rownum)
        entries.append((rownum, PlannedEntry(row["stratum"], seq, block, size, row["arm"], number)))
    present = {e.stratum for _, e in entries}
    for s in strata:
        if s not in present:
            problems.append(f"stratum {s} has no rows: every stratum must be present")
    unit = sum(ratio)
    blocks: dict[tuple[str, int], list[tuple[int, PlannedEntry]]] = {}
    for rownum, e in entries:
        blocks.setdefault((e.stratum, e.block_number), []).append((rownum, e))
    for (stratum, block), rows in sorted(blocks.items()):
        first = rows[0][0]
        sizes = {e.block_size for _, e in rows}
        size = rows[0][1].block_size
        if len(sizes) > 1:
            problems.append(f"row {first}: block {block} of stratum {stratum} has mixed block sizes {sorted(sizes)}")
        if size % unit:
            problems.append(f"row {first}: block size {size} is not a multiple of the allocation ratio total {unit}")
            continue
        if len(rows) != size:
            problems.append(
                f"row {first}: block {block} of stratum {stratum} has {len(rows)} rows, but block size {size}"
            )
            continue
        want = _quota(size, arms, ratio)
        got = {a: sum(1 for _, e in rows if e.arm == a) for a in arms}
        if got != want:
            problems.append(f"row {first}: block {block} of stratum {stratum} is unbalanced ({got}, expected {want})")
        seqs = sorted(e.sequence for _, e in rows)
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            problems.append(f"row {first}: block {block} of stratum {stratum} is not a run of consecutive sequences")
    for stratum in present:
        seqs = sorted(e.sequence for _, e in entries if e.stratum == stratum)
        gaps = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
        if gaps:
            problems.append(f"stratum {stratum}: sequence numbers missing: {', '.join(map(str, gaps[:10]))}")
    if not entries and not problems:
        problems.append("the file has no rows")
    if problems:
        raise ListFileError(problems)
    return [e for _, e in sorted(entries, key=lambda t: (t[1].stratum, t[1].sequence))]
