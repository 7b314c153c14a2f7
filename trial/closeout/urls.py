from django.urls import path

from trial.closeout import views

app_name = "closeout"

urlpatterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("worklist/", views.WorklistView.as_view(), name="worklist"),
    path("pharmacy-reconciliation/", views.PharmacyReconciliationView.as_view(), name="reconciliation"),
    path("signatures.csv", views.SignatureExportView.as_view(), name="signatures_export"),
    path("database/approve-lock/", views.DatabaseLockApproveView.as_view(), name="db_lock_approve"),
    path("database/request-unlock/", views.DatabaseUnlockRequestView.as_view(), name="db_unlock_request"),
    path("database/approve-unlock/", views.DatabaseUnlockApproveView.as_view(), name="db_unlock_approve"),
    path("unblinding/declare/", views.UnblindDeclareView.as_view(), name="unblind_declare"),
    path("unblinding/approve/", views.UnblindApproveView.as_view(), name="unblind_approve"),
    path("participants/<str:participant_id>/", views.CasebookReviewView.as_view(), name="review"),
    path("participants/<str:participant_id>/sign/", views.SignView.as_view(), name="sign"),
    path("participants/<str:participant_id>/verify/", views.VerifyView.as_view(), name="verify"),
    path("participants/<str:participant_id>/freeze/", views.FreezeView.as_view(), name="freeze"),
    path("participants/<str:participant_id>/unfreeze/", views.UnfreezeView.as_view(), name="unfreeze"),
    path("participants/<str:participant_id>/not-done/", views.NotDoneView.as_view(), name="not_done"),
    path("participants/<str:participant_id>/lock/", views.CasebookLockView.as_view(), name="lock"),
    path(
        "participants/<str:participant_id>/request-unlock/",
        views.CasebookUnlockRequestView.as_view(),
        name="unlock_request",
    ),
    path(
        "participants/<str:participant_id>/approve-unlock/",
        views.CasebookUnlockApproveView.as_view(),
        name="unlock_approve",
    ),
]
