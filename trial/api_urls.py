from django.urls import path

from trial.exports import api as exports_api
from trial.participants import api as participants_api
from trial.safety import api as safety_api
from trial.visits import api as visits_api
from trial.workspace import api as workspace_api

urlpatterns = [
    path("", exports_api.ApiRootApi.as_view(), name="api-root"),
    path("schema/", exports_api.SchemaApi.as_view(), name="api-schema"),
    path("docs/", exports_api.ApiDocsView.as_view(), name="api-docs"),
    path("participants/", participants_api.ParticipantListApi.as_view(), name="api-participant-list"),
    # Literal paths before `<participant_id>/`.
    path("participants/screen/", participants_api.ParticipantScreenApi.as_view(), name="api-participant-screen"),
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
    # Writes: the same forms and services as the web pages (README, "REST API: write endpoints").
    path(
        "participants/<str:participant_id>/screening/",
        participants_api.ScreeningUpdateApi.as_view(),
        name="api-screening-update",
    ),
    path(
        "participants/<str:participant_id>/consent/",
        participants_api.ConsentRecordApi.as_view(),
        name="api-consent-record",
    ),
    path(
        "participants/<str:participant_id>/randomize/",
        workspace_api.ParticipantRandomizeApi.as_view(),
        name="api-participant-randomize",
    ),
    path(
        "participants/<str:participant_id>/adverse-events/",
        safety_api.AdverseEventCreateApi.as_view(),
        name="api-adverse-event-create",
    ),
    path(
        "participants/<str:participant_id>/conmeds/",
        safety_api.ConmedCreateApi.as_view(),
        name="api-conmed-create",
    ),
    path("visits/<int:visit_pk>/date/", visits_api.VisitDateApi.as_view(), name="api-visit-date"),
    path("visits/<int:visit_pk>/missed/", visits_api.VisitMissedApi.as_view(), name="api-visit-missed"),
    path("visits/<int:visit_pk>/hamd/", visits_api.HamdApi.as_view(), name="api-visit-hamd"),
    path("visits/<int:visit_pk>/cgis/", visits_api.CgisApi.as_view(), name="api-visit-cgis"),
    path("visits/<int:visit_pk>/labs/", visits_api.LabsApi.as_view(), name="api-visit-labs"),
    path("visits/<int:visit_pk>/labs/sample/", visits_api.LabSampleApi.as_view(), name="api-visit-lab-sample"),
    path("visits/<int:visit_pk>/vitals/", visits_api.VitalsApi.as_view(), name="api-visit-vitals"),
    path("visits/<int:visit_pk>/infusion/", visits_api.InfusionApi.as_view(), name="api-visit-infusion"),
    path("adverse-events/", safety_api.AdverseEventListApi.as_view(), name="api-adverse-event-list"),
    path("adverse-events/<int:pk>/", safety_api.AdverseEventUpdateApi.as_view(), name="api-adverse-event-update"),
    path("conmeds/<int:pk>/", safety_api.ConmedUpdateApi.as_view(), name="api-conmed-update"),
    path("exports/", exports_api.DatasetListApi.as_view(), name="api-export-datasets"),
    path("exports/codebook/", exports_api.CodebookApi.as_view(), name="api-export-codebook"),
    path("exports/<slug:dataset>/", exports_api.DatasetRowsApi.as_view(), name="api-export-dataset"),
]
