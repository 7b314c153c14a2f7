from django.urls import path

from trial.visits import views

app_name = "visits"

# Every page is about one Visit, named by its id (`pk`).
urlpatterns = [
    path("<int:pk>/date/", views.VisitCompleteView.as_view(), name="complete"),
    path("<int:pk>/missed/", views.VisitMissedView.as_view(), name="missed"),
    path("<int:pk>/hamd/", views.HamdView.as_view(), name="hamd"),
    path("<int:pk>/cgis/", views.CgisView.as_view(), name="cgis"),
    path("<int:pk>/labs/", views.LabsView.as_view(), name="labs"),
    path("<int:pk>/labs/sample/", views.LabSampleView.as_view(), name="lab_sample"),
    path("<int:pk>/labs/results/", views.RevealingLabsView.as_view(), name="lab_results"),
    path("labs/import/", views.LabImportView.as_view(), name="lab_import"),
    path("<int:pk>/vitals/", views.VitalsView.as_view(), name="vitals"),
    path("<int:pk>/infusion/", views.InfusionView.as_view(), name="infusion"),
]
