from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "trial.randomization"
    label = "randomization"
    verbose_name = "Randomization"
