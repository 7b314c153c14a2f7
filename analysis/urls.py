from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("", views.RunListView.as_view(), name="list"),
    path("request/", views.RunRequestView.as_view(), name="request"),
    path("power/request/", views.PowerSimulationRequestView.as_view(), name="power-request"),
    path("<int:pk>/", views.RunDetailView.as_view(), name="detail"),
    path("<int:pk>/status.json", views.RunStatusView.as_view(), name="status"),
    path("<int:pk>/report.html", views.RunReportView.as_view(), name="report"),
    path("<int:pk>/bundle.zip", views.RunBundleView.as_view(), name="bundle"),
]
