"""Nav link to the exports page, shown only to the roles the export views let in."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def exports_nav(context: Any) -> str:
    request = context.get("request")
    if not can(getattr(request, "user", None), Capability.EXPORT):
        return ""
    return format_html('<a href="{}">Exports</a>', reverse("exports:index"))
