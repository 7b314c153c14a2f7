from django.urls import path

from trial.exports import api as exports_api
from trial.participants import api as participants_api
from trial.safety import api as safety_api
from trial.visits import api as visits_api

urlpatterns = [
    path("", exports_api.ApiRootApi.as_view(), name="api-root"),
    path("schema/", exports_api.SchemaApi.as_view(), name="api-schema"),
    path("docs/", exports_api.ApiDocsView.as_view(), name="api-docs"),
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
    path("exports/", exports_api.DatasetListApi.as_view(), name="api-export-datasets"),
    path("exports/codebook/", exports_api.CodebookApi.as_view(), name="api-export-codebook"),
    path("exports/<slug:dataset>/", exports_api.DatasetRowsApi.as_view(), name="api-export-dataset"),
]
