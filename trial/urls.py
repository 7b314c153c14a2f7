from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trial.accounts import views as account_views
from trial.core import views as core_views
from trial.exports import views as export_views
from trial.participants import urls as participant_urls
from trial.pharmacy import urls as pharmacy_urls
from trial.randomization import urls as randomization_urls
from trial.visits import urls as visit_urls
from trial.workspace import urls as workspace_urls

admin.site.site_header = "Stratum administration"
admin.site.site_title = "Stratum"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    *workspace_urls.dashboard_urlpatterns,
    path("healthz", core_views.healthz, name="healthz"),
    path("session/keepalive", core_views.session_keepalive, name="session_keepalive"),
    path("login/two-factor/", account_views.TwoFactorVerifyView.as_view(), name="two_factor_verify"),
    path("login/two-factor/enrol/", account_views.TwoFactorEnrolView.as_view(), name="two_factor_enrol"),
    path("admin/", admin.site.urls),
    # The participant and visit pages that look across apps live in trial.workspace; they share
    # the namespaces of the pages they sit among. Literal paths ("screen/") come first.
    path(
        "participants/",
        include((participant_urls.urlpatterns + workspace_urls.participant_urlpatterns, "participants")),
    ),
    path("visits/", include((workspace_urls.visit_urlpatterns + visit_urls.urlpatterns, "visits"))),
    path("safety/", include("trial.safety.urls")),
    path("queries/", include("trial.queries.urls")),
    path("randomization/", include("trial.randomization.urls")),
    path("pharmacy/", include("trial.pharmacy.urls")),
    path("analysis/", include("analysis.urls")),
    path("accounts/", include("trial.accounts.urls")),
    path("closeout/", include("trial.closeout.urls")),
    path(
        "api/randomization/",
        include(
            (randomization_urls.api_urlpatterns + workspace_urls.randomization_api_urlpatterns, "randomization-api")
        ),
    ),
    path("api/pharmacy/", include((pharmacy_urls.api_urlpatterns, "pharmacy-api"))),
    path("api/", include("trial.api_urls")),
    path("exports/", include("trial.exports.urls")),
    # The first export version's single-dataset CSVs (analysis datasets), kept for scripts that use them.
    path("exports/<slug:dataset>.csv", export_views.ExportDatasetView.as_view(), name="export-dataset"),
]
