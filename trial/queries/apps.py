from django.apps import AppConfig


class QueriesConfig(AppConfig):
    name = "trial.queries"
    label = "queries"
    verbose_name = "Data queries"

    def ready(self) -> None:
        # Every form save re-runs the participant's edit checks in its own transaction.
        from trial.core.services import after_form_save_register
        from trial.queries.services import edit_checks_run

        after_form_save_register(edit_checks_run)
