from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "trial.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib import admin
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from trial.accounts import checks  # noqa: F401 - registers the system check

        # django-otp's admin pages show and edit authenticator secrets; no web page should (21 CFR
        # 11.300(b)). A lost authenticator is reset on the server: `manage.py two_factor_reset USER`.
        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
