from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "trial.randomization"
    label = "randomization"
    verbose_name = "Randomization"

    def ready(self) -> None:
        from trial.randomization import checks  # noqa: F401 - registers the list integrity check
