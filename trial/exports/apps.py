from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "trial.exports"
    label = "exports"
    verbose_name = "Exports: datasets, data dictionary, CDISC ODM, API tokens"
