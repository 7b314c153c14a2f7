from django.apps import AppConfig


class QueriesConfig(AppConfig):
    name = "trial.queries"
    label = "queries"
    verbose_name = "Data queries"
