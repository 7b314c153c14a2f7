from django.urls import path

from trial.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.ExportPageView.as_view(), name="index"),
    path("codebook/", views.CodebookView.as_view(), name="codebook"),
    path("codebook.csv", views.CodebookCsvView.as_view(), name="codebook-csv"),
    path("tokens/", views.ApiTokensView.as_view(), name="tokens"),
]
