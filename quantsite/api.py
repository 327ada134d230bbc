"""The /api/v1/ router: every app's API views in one place."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from backtests.api import BacktestRunViewSet, WalkForwardRunViewSet
from marketdata.api import BarListApi, InstrumentViewSet
from monitoring.api import HealthApi

router = DefaultRouter()
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("runs", BacktestRunViewSet, basename="backtest-run")
router.register("walkforwards", WalkForwardRunViewSet, basename="walk-forward-run")

urlpatterns = [
    path("", include(router.urls)),
    path("bars/", BarListApi.as_view(), name="bar-list"),
    path("health/", HealthApi.as_view(), name="health"),
]
