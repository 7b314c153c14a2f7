from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "trial.randomization"
    label = "randomization"
    verbose_name = "Randomization"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from trial.randomization import checks  # noqa: F401 - registers the list integrity check
        from trial.randomization.list_hash import sqlite_functions_register

        connection_created.connect(sqlite_functions_register, dispatch_uid="stratum_list_sha256")
