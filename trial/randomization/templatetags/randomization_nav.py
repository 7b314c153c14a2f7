"""Nav links for randomization and pharmacy pages, shown only to roles that may open them.

A tag rather than template logic, so every page that extends base.html gets the same answer from
the same role sets the views enforce (trial.randomization.access).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html_join

from trial.core.roles import has_role
from trial.randomization import access

register = template.Library()


@register.simple_tag(takes_context=True)
def randomization_nav(context: Any) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    links = []
    if has_role(user, *access.ALLOCATION_VIEWERS):
        links.append((reverse("randomization:allocations"), "Allocations"))
    if has_role(user, *access.LIST_MANAGERS):
        links.append((reverse("randomization:lists"), "Randomization lists"))
    if has_role(user, *access.CODE_BREAK_VIEWERS):
        links.append((reverse("randomization:code_breaks"), "Code breaks"))
    if has_role(user, *access.PHARMACY_VIEWERS):
        links.append((reverse("pharmacy:queue"), "Pharmacy"))
    return format_html_join(" ", '<a href="{}">{}</a>', links)
