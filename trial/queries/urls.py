from django.urls import path

from trial.queries import views

app_name = "queries"

urlpatterns = [
    path("", views.QueryListView.as_view(), name="list"),
    path("new/", views.QueryOpenView.as_view(), name="new"),
    path("<int:pk>/", views.QueryDetailView.as_view(), name="detail"),
    path("edit-checks/", views.EditChecksView.as_view(), name="edit_checks"),
]
