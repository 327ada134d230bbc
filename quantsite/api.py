"""The /api/v1/ router: every app's API views in one place."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from backtests.api import BacktestRunViewSet, WalkForwardRunViewSet
from features.api import FeatureSetListApi
from marketdata.api import BarListApi, InstrumentViewSet
from strategies.api import TrainedModelViewSet

router = DefaultRouter()
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("runs", BacktestRunViewSet, basename="backtest-run")
router.register("walkforwards", WalkForwardRunViewSet, basename="walk-forward-run")
router.register("models", TrainedModelViewSet, basename="trained-model")

urlpatterns = [
    path("", include(router.urls)),
    path("bars/", BarListApi.as_view(), name="bar-list"),
    path("features/sets/", FeatureSetListApi.as_view(), name="feature-set-list"),
    path("", include("monitoring.urls")),
]
