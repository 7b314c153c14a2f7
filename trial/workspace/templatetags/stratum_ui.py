"""Template helpers for the site's layout: which links a user is offered, and how a date reads.

Links are offered by the same capabilities the views enforce (trial.access), so a role is never
shown a page that answers it with 403.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from trial.access import Capability
from trial.access import can as access_can

register = template.Library()


@register.filter(name="can")
def can(user: Any, capability: str) -> bool:
    """`{% if user|can:"enter_data" %}`: an unknown capability name is an error, not a silent False."""
    return access_can(user, Capability(capability))


@register.filter(name="qr_svg")
def qr_svg(text: str) -> SafeString:
    """A QR code of `text` (the kit id) as inline SVG, drawn by segno (already a dependency for two-factor
    enrolment): scanned at the bedside it matches the kit to the infusion record without retyping.
    Inline SVG with presentation attributes only, so the Content Security Policy allows it."""
    import segno

    code = segno.make(str(text), error="m")
    svg = code.svg_inline(scale=3, border=2, svgclass="kit-qr", title=f"QR code of kit {text}")
    # segno escapes its title; the label is escaped here.
    labelled = svg.replace("<svg ", f'<svg role="img" aria-label="QR code of kit {escape(str(text))}" ', 1)
    return mark_safe(labelled)  # noqa: S308
