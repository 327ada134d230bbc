"""The Positions page: open positions marked at their latest closes and recent orders, refreshing
every 5 s (filtered by the API's FilterSets), and closing a position through risk and the OMS."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from execution.filters import OrderFilter, PositionFilter
from execution.position_services import position_close
from execution.selectors import order_list, position_list
from quantsite.console import action, partial
from quantsite.roles import OPERATOR


@login_required
def positions(request):
    rows = PositionFilter(request.GET, queryset=position_list()).qs.order_by("strategy_version_id", "symbol")
    orders = OrderFilter(request.GET, queryset=order_list().select_related("strategy_version")).qs[:50]
    context = {
        "positions": [(p, None if p.mark is None else (p.mark - p.avg_price) * p.qty) for p in rows],
        "orders": orders,
        "filters": request.GET,
    }
    template = "execution/_positions.html" if partial(request) else "execution/positions.html"
    return render(request, template, context)


@action(OPERATOR)
def position_close_view(request, pk: int):
    position = get_object_or_404(position_list(), pk=pk)
    closed = position_close(position=position, by=request.user)
    if closed.order is None:
        messages.success(
            request, f"close of {position.symbol} requested: its session sends it at its next bar"
        )
    else:
        messages.success(request, f"close of {position.symbol} sent: {closed.order}")
    return redirect("positions")
