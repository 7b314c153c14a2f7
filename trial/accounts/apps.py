from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "trial.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from trial.accounts import checks  # noqa: F401 - registers the system check
