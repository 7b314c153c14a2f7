"""Nav link to the analysis runs, shown only to the roles the analysis views let in."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from analysis.services import ANALYSIS_ROLES
from trial.core.roles import has_role

register = template.Library()


@register.simple_tag(takes_context=True)
def analysis_nav(context: Any) -> str:
    request = context.get("request")
    if not has_role(getattr(request, "user", None), *ANALYSIS_ROLES):
        return ""
    return format_html('<a href="{}">Analysis</a>', reverse("analysis:list"))
