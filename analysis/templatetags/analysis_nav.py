"""Nav link to the analysis runs, shown only to the roles the analysis views let in."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def analysis_nav(context: Any) -> str:
    request = context.get("request")
    if not can(getattr(request, "user", None), Capability.POOLED_ANALYSIS):
        return ""
    return format_html('<a href="{}">Analysis</a>', reverse("analysis:list"))
