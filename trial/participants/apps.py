from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "trial.participants"
    label = "participants"
    verbose_name = "Participants"

    def ready(self) -> None:
        from trial.participants import checks  # noqa: F401 - registers the system check
