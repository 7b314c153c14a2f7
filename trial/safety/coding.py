"""The adverse-event dictionary: a small MedDRA-shaped list, lowest level term -> preferred term ->
system organ class (ae_dictionary.csv beside this module).

Built from the terms of the reference trial's Table 2 (protocol: End points, Safety) and the events
common in infusion trials. Plain Python: a term matches an LLT when they are equal ignoring case and
surrounding spaces; anything else is left for the data manager to code by hand (ICH E2A; MedDRA's own
rule that a verbatim term is coded to the LLT that matches it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DICTIONARY_FILE = Path(__file__).resolve().parent / "ae_dictionary.csv"


@dataclass(frozen=True)
class DictionaryTerm:
    llt: str
    pt: str
    soc: str


@cache
def dictionary() -> dict[str, DictionaryTerm]:
    """Every LLT of the dictionary, keyed by its lower-case text."""
    with DICTIONARY_FILE.open(encoding="utf-8", newline="") as f:
        rows = [DictionaryTerm(r["llt"].strip(), r["pt"].strip(), r["soc"].strip()) for r in csv.DictReader(f)]
    return {r.llt.casefold(): r for r in rows}


def _key(term: str) -> str:
    return " ".join((term or "").split()).casefold()


def term_lookup(term: str) -> DictionaryTerm | None:
    """The LLT this verbatim term matches (case and spacing ignored), or None."""
    return dictionary().get(_key(term))


def dictionary_terms() -> list[DictionaryTerm]:
    return sorted(dictionary().values(), key=lambda t: (t.soc, t.pt, t.llt))
