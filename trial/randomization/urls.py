from django.urls import path

from trial.randomization import api, views

app_name = "randomization"

urlpatterns = [
    path("", views.AllocationListView.as_view(), name="allocations"),
    path(
        "participants/<int:participant_pk>/code-break/", views.CodeBreakRequestView.as_view(), name="code_break_request"
    ),
    path("lists/", views.ListIndexView.as_view(), name="lists"),
    path("lists/generate/", views.ListGenerateView.as_view(), name="list_generate"),
    path("lists/upload/", views.ListUploadView.as_view(), name="list_upload"),
    path("lists/<int:pk>/", views.ListDetailView.as_view(), name="list_detail"),
    path("lists/<int:pk>/activate/", views.ListActivateView.as_view(), name="list_activate"),
    path("code-breaks/", views.CodeBreakListView.as_view(), name="code_breaks"),
    path("code-breaks/<int:pk>/", views.CodeBreakDetailView.as_view(), name="code_break_detail"),
    path("code-breaks/<int:pk>/decide/", views.CodeBreakDecideView.as_view(), name="code_break_decide"),
    path("code-breaks/<int:pk>/review/", views.CodeBreakReviewView.as_view(), name="code_break_review"),
]

api_urlpatterns = [
    path("allocations/", api.AllocationListApi.as_view(), name="allocations"),
]
