from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "trial.safety"
    label = "safety"
    verbose_name = "Safety and conduct"
