from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "trial.demo"
    label = "demo"
    verbose_name = "Demo trial"
