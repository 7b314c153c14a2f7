from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "trial.protocol"
    label = "protocol"
    verbose_name = "Protocol"

    def ready(self) -> None:
        from trial.protocol import checks  # noqa: F401 - registers the system check
