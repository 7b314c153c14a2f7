from django.urls import path

from trial.participants import api as participants_api
from trial.safety import api as safety_api
from trial.visits import api as visits_api

urlpatterns = [
    path("participants/", participants_api.ParticipantListApi.as_view(), name="api-participant-list"),
    path(
        "participants/<str:participant_id>/",
        participants_api.ParticipantDetailApi.as_view(),
        name="api-participant-detail",
    ),
    path(
        "participants/<str:participant_id>/labs/",
        visits_api.ParticipantLabsApi.as_view(),
        name="api-participant-labs",
    ),
    path("adverse-events/", safety_api.AdverseEventListApi.as_view(), name="api-adverse-event-list"),
]
