from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "trial.exports"
    label = "exports"
    verbose_name = "Exports: datasets, data dictionary, CDISC ODM, API tokens"

    def ready(self) -> None:
        from trial.exports.admin import offer_export_selected

        # Runs after django.contrib.admin's autodiscover (earlier in INSTALLED_APPS), so every model
        # admin is registered by now.
        offer_export_selected()
