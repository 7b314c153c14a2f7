from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "trial.core"
    label = "core"
    verbose_name = "Stratum core"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import m2m_changed, post_save

        from trial.core import access_log, audit_chain, audit_triggers, permissions
        from trial.core.admin import human_names_apply
        from trial.core.models import User

        human_names_apply()

        # After every migrate: make history append-only and give each role its permissions.
        # Both are idempotent and cover models added later without a migration of their own.
        post_migrate.connect(audit_triggers.install_after_migrate, dispatch_uid="stratum_audit_triggers")
        post_migrate.connect(permissions.sync_after_migrate, dispatch_uid="stratum_role_permissions")

        # 21 CFR 11.10(e): every append-only audit row is sealed into the hash chain as it is written.
        post_save.connect(audit_chain.seal_after_save, dispatch_uid="stratum_audit_seal")
        # 11.10(e) and 11.300(d): logins, logouts, failures, lockouts and role changes go to the access log.
        user_logged_in.connect(access_log.on_logged_in, dispatch_uid="stratum_access_login")
        user_logged_out.connect(access_log.on_logged_out, dispatch_uid="stratum_access_logout")
        user_login_failed.connect(access_log.on_login_failed, dispatch_uid="stratum_access_login_failed")
        user_locked_out.connect(access_log.on_locked_out, dispatch_uid="stratum_access_locked_out")
        m2m_changed.connect(
            access_log.on_groups_changed, sender=User.groups.through, dispatch_uid="stratum_access_roles"
        )
