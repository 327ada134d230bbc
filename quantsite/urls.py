from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring.api import PrometheusMetricsApi
from monitoring.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="overview", permanent=False)),
    path("", include("quantsite.console_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("quantsite.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("metrics", PrometheusMetricsApi.as_view(), name="prometheus-metrics"),
]
handler404 = "quantsite.errors.api_not_found"
