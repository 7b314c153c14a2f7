from django.urls import path

from trial.pharmacy import api, views

app_name = "pharmacy"

urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    path("visits/<int:visit_pk>/prepare/", views.PrepareView.as_view(), name="prepare"),
    path("preparations/<int:pk>/", views.PreparationView.as_view(), name="preparation"),
    path("preparations/<int:pk>/label/", views.LabelView.as_view(), name="label"),
    path("preparations/<int:pk>/dispense/", views.DispenseView.as_view(), name="dispense"),
    path("preparations/<int:pk>/waste/", views.WasteView.as_view(), name="waste"),
    path("lots/", views.LotsView.as_view(), name="lots"),
    path("lots/receive/", views.LotReceiveView.as_view(), name="lot_receive"),
    path("lots/<int:pk>/wastage/", views.WastageView.as_view(), name="wastage"),
]

api_urlpatterns = [
    path("queue/", api.InfusionQueueApi.as_view(), name="queue"),
]
