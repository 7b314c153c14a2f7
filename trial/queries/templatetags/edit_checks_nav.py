"""Nav link to the Edit checks page, shown only to those the page lets in."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def edit_checks_nav(context: Any) -> str:
    request = context.get("request")
    if not can(getattr(request, "user", None), Capability.VIEW_EDIT_CHECKS):
        return ""
    return format_html('<a href="{}">Edit checks</a>', reverse("queries:edit_checks"))
