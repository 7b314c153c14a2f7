from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "trial.pharmacy"
    label = "pharmacy"
    verbose_name = "Pharmacy (unblinded)"
