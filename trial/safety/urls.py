from django.urls import path

from trial.safety import views

app_name = "safety"

# New records hang off the participant (`participant_id`); existing ones are named by their own `pk`.
urlpatterns = [
    path("coding/", views.CodingListView.as_view(), name="coding"),
    path("adverse-events/<int:pk>/code/", views.AdverseEventCodeView.as_view(), name="ae_code"),
    path("alerts/failures/", views.NotificationFailuresView.as_view(), name="notification_failures"),
    path("participants/<str:participant_id>/adverse-events/new/", views.AdverseEventView.as_view(), name="ae_new"),
    path("adverse-events/<int:pk>/", views.AdverseEventView.as_view(), name="ae_edit"),
    path("participants/<str:participant_id>/conmeds/new/", views.ConmedView.as_view(), name="conmed_new"),
    path("conmeds/<int:pk>/", views.ConmedView.as_view(), name="conmed_edit"),
    path("participants/<str:participant_id>/deviations/new/", views.DeviationView.as_view(), name="deviation_new"),
    path("deviations/<int:pk>/", views.DeviationView.as_view(), name="deviation_edit"),
]
