from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("", views.run_list, name="list"),
    path("request/", views.run_request, name="request"),
    path("<int:pk>/", views.run_detail, name="detail"),
]
