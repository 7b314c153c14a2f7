from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "trial.participants"
    label = "participants"
    verbose_name = "Participants"
