"""Nav link to the access log, shown only to those the page lets in."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def access_log_nav(context: Any) -> str:
    request = context.get("request")
    if not can(getattr(request, "user", None), Capability.VIEW_ACCESS_LOG):
        return ""
    return format_html('<a href="{}">Access log</a>', reverse("accounts:access_log"))
