"""Nav link to the exports page for the roles the export views let in; to the API tokens page for the
other roles that use the API."""

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
    user = getattr(request, "user", None)
    if can(user, Capability.EXPORT):
        return format_html('<a href="{}">Exports</a>', reverse("exports:index"))
    if can(user, Capability.USE_API_TOKENS):
        # The data-entry roles export nothing, but write through the API with a token of their own.
        return format_html('<a href="{}">API tokens</a>', reverse("exports:tokens"))
    return ""
