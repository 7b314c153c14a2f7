from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "trial.workspace"
    label = "workspace"
    verbose_name = "Workspace"
