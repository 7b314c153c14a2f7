from django.apps import AppConfig


class CloseoutConfig(AppConfig):
    name = "trial.closeout"
    label = "closeout"
    verbose_name = "Close-out: monitoring, signatures, locks, unblinding"

    def ready(self) -> None:
        from trial import access, blinding
        from trial.closeout import guards, selectors
        from trial.core import services as core_services

        # The one save path of clinical records refuses writes to frozen or locked data, and
        # reports a change after verification or signing (21 CFR 11.10(a), (d), 11.70).
        core_services.record_write_guard_register(guards.record_write_guard, many=guards.records_write_guard)
        core_services.after_record_save_register(guards.after_record_save, many=guards.after_records_save)
        # Services that write trial data are refused while the database is locked.
        access.write_refusal_register(guards.database_lock_refusal)
        # trial.blinding learns the study phase (Design: blind until the whole trial is complete).
        blinding.study_unblinded_register(selectors.study_is_formally_unblinded)
