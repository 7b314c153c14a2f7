"""How numbers are printed in reports (Django-free, shared by pages, HTML reports and CSV).

P-values follow the journal style of the trial's own report (JAMA Psychiatry; AMA Manual of Style
19.4): no leading zero, "< .001" below one in a thousand, three decimals below .01 and around the
.05 boundary (so .0496 is not printed as ".05"), "> .99" at the top, otherwise two decimals.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def format_p(value: Any) -> str:
    p = _number(value)
    if p is None or p < 0 or p > 1:
        return MISSING
    if p < 0.001:
        return "< .001"
    if p > 0.99:
        return "> .99"
    decimals = 3 if p < 0.01 or 0.045 <= p < 0.055 else 2
    text = f"{p:.{decimals}f}"
    return text[1:] if text.startswith("0") else text


def format_number(value: Any, decimals: int = 2) -> str:
    """Fixed decimals with a true minus sign avoided (CSV readers parse "-"), missing as a dash."""
    x = _number(value)
    if x is None:
        return MISSING
    text = f"{x:.{decimals}f}"
    # "-0.00" says a sign the rounded number does not have.
    return text[1:] if text.startswith("-") and float(text) == 0 else text
