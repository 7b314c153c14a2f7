"""Template filters for analysis output: journal-style P values and fixed decimals."""

from __future__ import annotations

from typing import Any

from django import template

from analysis.stats.formatting import format_number, format_p

register = template.Library()


@register.filter
def pvalue(value: Any) -> str:
    return format_p(value)


@register.filter
def decimals(value: Any, places: int = 2) -> str:
    return format_number(value, int(places))
