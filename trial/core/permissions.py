"""Give each role's group its Django model permissions (for the admin site)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

from trial.core.roles import ROLE_MODEL_PERMISSIONS, Role


def sync_role_permissions() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted: list[Permission] = []
        for app_label, actions in ROLE_MODEL_PERMISSIONS.get(role, {}).items():
            perms = Permission.objects.filter(content_type__app_label=app_label)
            wanted.extend(p for p in perms if p.codename.split("_", 1)[0] in actions)
        group.permissions.set(wanted)


def sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # Run once per migrate, after the last app with models, when every permission exists.
    from django.apps import apps

    with_models = [config.label for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and sender.label == with_models[-1]:
        sync_role_permissions()
