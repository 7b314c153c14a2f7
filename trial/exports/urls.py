from django.urls import path

from trial.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.ExportPageView.as_view(), name="index"),
    path("codebook/", views.CodebookView.as_view(), name="codebook"),
    path("codebook.csv", views.CodebookCsvView.as_view(), name="codebook-csv"),
    path("tokens/", views.ApiTokensView.as_view(), name="tokens"),
    path("jobs/<int:pk>/", views.ExportJobView.as_view(), name="job"),
    path("jobs/<int:pk>/status/", views.ExportJobStatusView.as_view(), name="job-status"),
    path("jobs/<int:pk>/download/", views.ExportJobDownloadView.as_view(), name="job-download"),
]
