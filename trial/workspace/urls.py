"""URLs of the pages that look across apps. `trial.urls` mounts them under the participants and
visits namespaces, so a link reads the same wherever the page's code lives."""

from django.urls import path

from trial.workspace import api, views

dashboard_urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
]

participant_urlpatterns = [
    # A literal path, before the participant ids.
    path("code-break/", views.CodeBreakStartView.as_view(), name="code_break_start"),
    path("<str:participant_id>/", views.ParticipantDetailView.as_view(), name="detail"),
    path("<str:participant_id>/randomize/", views.RandomizeView.as_view(), name="randomize"),
]

visit_urlpatterns = [
    path("due/", views.VisitsDueView.as_view(), name="due"),
    path("<int:pk>/", views.VisitDetailView.as_view(), name="detail"),
    path("<int:pk>/blank-crf/", views.BlankCrfView.as_view(), name="blank_crf"),
]

randomization_api_urlpatterns = [
    path("participants/<int:participant_pk>/randomize/", api.ParticipantRandomizeApi.as_view(), name="randomize"),
]
