from django.urls import path

from trial.accounts import views

app_name = "accounts"

urlpatterns = [
    path("access-log/", views.AccessLogView.as_view(), name="access_log"),
]
