"""Monitoring's routes under /api/v1/ (included by quantsite/api.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from monitoring.api import (
    AlertAcknowledgeApi,
    AlertResolveApi,
    AlertViewSet,
    DailySummaryViewSet,
    HealthApi,
    MetricSnapshotViewSet,
    MetricsSummaryApi,
    SystemSnapshotViewSet,
)

router = SimpleRouter()
router.register("alerts", AlertViewSet, basename="alert")
router.register("metrics/snapshots", MetricSnapshotViewSet, basename="metric-snapshot")
router.register("metrics/system", SystemSnapshotViewSet, basename="system-snapshot")
router.register("summaries", DailySummaryViewSet, basename="daily-summary")

urlpatterns = [
    path("alerts/<str:pk>/acknowledge/", AlertAcknowledgeApi.as_view(), name="alert-acknowledge"),
    path("alerts/<str:pk>/resolve/", AlertResolveApi.as_view(), name="alert-resolve"),
    path("metrics/summary/", MetricsSummaryApi.as_view(), name="metrics-summary"),
    path("health/", HealthApi.as_view(), name="health"),
    path("", include(router.urls)),
]
