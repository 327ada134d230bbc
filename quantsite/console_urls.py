"""The operator console's pages (each app's views.py), under the site's root."""

from django.urls import path

from backtests import views as backtests
from execution import views as execution
from monitoring import views as monitoring
from risk import views as risk
from strategies import views as strategies

urlpatterns = [
    path("overview/", monitoring.overview, name="overview"),
    path("health/", monitoring.system_health, name="system-health"),
    path("positions/", execution.positions, name="positions"),
    path("positions/<int:pk>/close/", execution.position_close_view, name="position-close-page"),
    path("strategies/", strategies.strategy_list, name="strategy-list"),
    path("strategies/<int:pk>/", strategies.strategy_detail, name="strategy-detail"),
    path("strategies/<int:pk>/promote/", strategies.strategy_promote, name="strategy-promote"),
    path("approvals/<int:pk>/decide/", strategies.approval_decide_view, name="approval-decide"),
    path("runs/", backtests.run_list, name="run-list"),
    path("runs/start/", backtests.run_start, name="run-start"),
    path("runs/compare/", backtests.run_compare, name="run-compare"),
    path("runs/<int:pk>/", backtests.run_detail, name="run-detail"),
    path("controls/", risk.controls, name="controls"),
    path("controls/kill-switch/", risk.kill_switch_engage_view, name="console-kill-switch"),
    path("controls/reset/", risk.halt_reset_request_view, name="halt-reset-request"),
    path("controls/risk-policy/", risk.risk_policy_propose_view, name="risk-policy-propose"),
    path("controls/strategies/<int:pk>/pause/", risk.strategy_pause_view, name="strategy-pause"),
    path("controls/strategies/<int:pk>/resume/", risk.strategy_resume_view, name="strategy-resume"),
]
