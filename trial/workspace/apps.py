from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "trial.workspace"
    label = "workspace"
    verbose_name = "Workspace"

    def ready(self) -> None:
        from trial.core.admin import admin_queryset_scope_register
        from trial.workspace.scope import admin_queryset_scope

        admin_queryset_scope_register(admin_queryset_scope)
