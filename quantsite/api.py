"""The /api/v1/ router: every app's API views in one place."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from agents.api import AgentToolInvokeApi, AgentToolListApi, ToolCallViewSet
from backtests.api import BacktestRunViewSet, StrategyBacktestApi, WalkForwardRunViewSet
from execution.api import FillViewSet, OrderViewSet, PositionCloseApi, PositionViewSet
from features.api import FeatureSetListApi
from marketdata.api import BarListApi, InstrumentViewSet
from risk.api import KillSwitchEngageApi, KillSwitchResetApi, RiskPolicyApi, TradingStatesApi
from strategies.api import (
    ApprovalApproveApi,
    ApprovalRejectApi,
    ApprovalViewSet,
    StrategyDisableApi,
    StrategyEnableApi,
    StrategyPauseApi,
    StrategyPromotionRequestApi,
    StrategyResumeApi,
    StrategyRetireApi,
    StrategyVersionViewSet,
    TrainedModelViewSet,
)

router = DefaultRouter()
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("runs", BacktestRunViewSet, basename="backtest-run")
router.register("walkforwards", WalkForwardRunViewSet, basename="walk-forward-run")
router.register("models", TrainedModelViewSet, basename="trained-model")
router.register("strategies", StrategyVersionViewSet, basename="strategy-version")
router.register("positions", PositionViewSet, basename="position")
router.register("orders", OrderViewSet, basename="order")
router.register("fills", FillViewSet, basename="fill")
router.register("controls/approvals", ApprovalViewSet, basename="approval")
router.register("agents/calls", ToolCallViewSet, basename="tool-call")

# A strategy version's actions: POST /api/v1/strategies/{id}/<action>/
STRATEGY_ACTIONS = {
    "request-promotion": StrategyPromotionRequestApi,
    "retire": StrategyRetireApi,
    "backtest": StrategyBacktestApi,
    "pause": StrategyPauseApi,
    "resume": StrategyResumeApi,
    "enable": StrategyEnableApi,
    "disable": StrategyDisableApi,
}

urlpatterns = [
    path("", include(router.urls)),
    *(
        path(f"strategies/<int:pk>/{action}/", view.as_view(), name=f"strategy-version-{action}")
        for action, view in STRATEGY_ACTIONS.items()
    ),
    path("positions/<int:pk>/close/", PositionCloseApi.as_view(), name="position-close"),
    path("controls/trading-states/", TradingStatesApi.as_view(), name="trading-states"),
    path("controls/kill-switch/", KillSwitchEngageApi.as_view(), name="kill-switch-engage"),
    path("controls/kill-switch/reset/", KillSwitchResetApi.as_view(), name="kill-switch-reset"),
    path("controls/risk-policy/", RiskPolicyApi.as_view(), name="risk-policy"),
    path("controls/approvals/<int:pk>/approve/", ApprovalApproveApi.as_view(), name="approval-approve"),
    path("controls/approvals/<int:pk>/reject/", ApprovalRejectApi.as_view(), name="approval-reject"),
    path("bars/", BarListApi.as_view(), name="bar-list"),
    path("features/sets/", FeatureSetListApi.as_view(), name="feature-set-list"),
    path("agents/tools/", AgentToolListApi.as_view(), name="agent-tool-list"),
    path("agents/tools/<str:name>/invoke/", AgentToolInvokeApi.as_view(), name="agent-tool-invoke"),
    path("", include("monitoring.urls")),
]
