from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analysis.exports import export_dataset
from trial.core import views as core_views
from trial.pharmacy import urls as pharmacy_urls
from trial.randomization import urls as randomization_urls

admin.site.site_header = "Stratum administration"
admin.site.site_title = "Stratum"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", core_views.DashboardView.as_view(), name="dashboard"),
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("participants/", include("trial.participants.urls")),
    path("visits/", include("trial.visits.urls")),
    path("safety/", include("trial.safety.urls")),
    path("queries/", include("trial.queries.urls")),
    path("randomization/", include("trial.randomization.urls")),
    path("pharmacy/", include("trial.pharmacy.urls")),
    path("analysis/", include("analysis.urls")),
    path("api/randomization/", include((randomization_urls.api_urlpatterns, "randomization-api"))),
    path("api/pharmacy/", include((pharmacy_urls.api_urlpatterns, "pharmacy-api"))),
    path("api/", include("trial.api_urls")),
    path("exports/<slug:dataset>.csv", export_dataset, name="export-dataset"),
]
