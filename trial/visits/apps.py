from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "trial.visits"
    label = "visits"
    verbose_name = "Visits and assessments"
