"""Nav links for randomization and pharmacy pages, shown only to roles that may open them.

A tag rather than template logic, so every page that extends base.html gets the same answer from
the same capabilities the views enforce (trial.access).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html_join

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def randomization_nav(context: Any) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    links = []
    if can(user, Capability.VIEW_ALLOCATIONS):
        links.append((reverse("randomization:allocations"), "Allocations"))
    if can(user, Capability.MANAGE_LISTS):
        links.append((reverse("randomization:lists"), "Randomization lists"))
    if can(user, Capability.VIEW_CODE_BREAKS):
        links.append((reverse("randomization:code_breaks"), "Code breaks"))
    if can(user, Capability.ENTER_REVEALING_LABS):
        links.append((reverse("visits:lab_import"), "Import lab results"))
    if can(user, Capability.VIEW_PHARMACY):
        links.append((reverse("pharmacy:queue"), "Pharmacy"))
    return format_html_join(" ", '<a href="{}">{}</a>', links)
