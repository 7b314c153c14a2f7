from django.urls import path

from trial.participants import views

app_name = "participants"

urlpatterns = [
    path("", views.ParticipantListView.as_view(), name="list"),
    path("screen/", views.ScreeningCreateView.as_view(), name="screen"),
    path("eligibility/", views.EligibilityCheckView.as_view(), name="eligibility"),
    path("<str:participant_id>/screening/", views.ScreeningEditView.as_view(), name="screening_edit"),
    path("<str:participant_id>/consent/", views.ConsentView.as_view(), name="consent"),
    path("<str:participant_id>/end-of-study/", views.EndOfStudyView.as_view(), name="end_of_study"),
]
