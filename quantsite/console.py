"""What every operator page shares: the navigation, the roles of the person looking, and the guard
of every action (a role checked on the server: a viewer who posts anyway gets 403)."""

from collections.abc import Callable
from functools import wraps

import plotly.graph_objects as go
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from marketdata.core.errors import ApplicationError
from quantsite.roles import ROLES, has_role

NAV = [
    ("Overview", "overview"),
    ("Strategies", "strategy-list"),
    ("Positions", "positions"),
    ("Runs", "run-list"),
    ("Controls", "controls"),
    ("System health", "system-health"),
]


def console(request) -> dict:
    """Context of every page: the navigation and what the person may do (`can.operator`...)."""
    if not request.user.is_authenticated:
        return {}
    path = request.path
    nav = [{"label": label, "url": reverse(name)} for label, name in NAV]
    for item in nav:
        item["current"] = path.startswith(item["url"])
    return {"nav": nav, "can": {role: has_role(request.user, role) for role in ROLES}}


def action(role: str) -> Callable:
    """An operator page's action: POST only, logged in, holding role (else 403). A refusal of the
    service (ApplicationError) becomes a message on the page it returns to, never a 500."""

    def decorate(view: Callable) -> Callable:
        @login_required
        @require_POST
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"this needs the role {role}")
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return back(request)

        return guarded

    return decorate


def equity_chart(curves: list[tuple[str, list, list[float]]]) -> str:
    """Equity curves, each (name, times, equity), with their drawdowns from the running peak on a
    second axis: a plotly figure's HTML (plotly.js comes from static)."""
    figure = go.Figure()
    for name, ts, equity in curves:
        peak, drawdown = float("-inf"), []
        for value in equity:
            peak = max(peak, value)
            drawdown.append((value / peak - 1) * 100 if peak > 0 else 0.0)
        figure.add_trace(go.Scatter(x=ts, y=equity, name=f"{name} equity", mode="lines"))
        figure.add_trace(go.Scatter(x=ts, y=drawdown, name=f"{name} drawdown %", mode="lines", yaxis="y2"))
    figure.update_layout(
        height=360,
        margin={"l": 50, "r": 50, "t": 20, "b": 30},
        yaxis={"title": "equity"},
        yaxis2={"title": "drawdown %", "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h"},
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def partial(request) -> bool:
    """Whether the request asks for a page's fragment (an htmx poll or swap), not the whole page (a
    link or a boosted form)."""
    return bool(request.htmx) and not request.htmx.boosted


def back(request):
    """Back where the action came from (its form's `next`, else the referring page) when that is
    on this site."""
    for target in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return redirect(target)
    return redirect("/")
