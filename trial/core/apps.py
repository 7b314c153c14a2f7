from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "trial.core"
    label = "core"
    verbose_name = "Stratum core"

    def ready(self) -> None:
        from trial.core import audit_triggers, permissions

        # After every migrate: make history append-only and give each role its permissions.
        # Both are idempotent and cover models added later without a migration of their own.
        post_migrate.connect(audit_triggers.install_after_migrate, dispatch_uid="stratum_audit_triggers")
        post_migrate.connect(permissions.sync_after_migrate, dispatch_uid="stratum_role_permissions")
