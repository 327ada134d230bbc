"""The execution agent's tools: an order placed by an agent passes the trading checks and the risk
manager like any order (paper only, unless an admin granted live rights), through a real broker at
once and on the paper broker at the session's next bar; its status, the positions, reconciliation."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from execution.models import Order, TradingAccount
from execution.tests.test_position_close import at_alpaca  # noqa: F401  (a fixture)
from execution.tests.test_trading_session import BARS, START
from execution.tests.test_trading_session import CONFIG as SESSION_CONFIG
from execution.trading_services import TradingSession, replay_bars
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage, strategy_pause

pytestmark = pytest.mark.django_db


def order(version, **fields) -> dict:
    return {"strategy_version": version.pk, "symbol": "AAA", "side": "buy", "qty": "1", **fields}


def test_on_the_paper_broker_the_order_waits_for_the_session_and_a_key_never_places_twice(
    as_role, invoke, book, memory
):
    version = book()
    operator = as_role("operator")

    placed = invoke(operator, "place_order", order=order(version), key="dip-1")
    again = invoke(operator, "place_order", order=order(version), key="dip-1")

    stored = Order.objects.get(reason="agent order")
    assert placed.status_code == 200
    assert placed.json()["result"]["outcome"] == again.json()["result"]["outcome"] == "requested"
    assert placed.json()["result"]["order"]["id"] == again.json()["result"]["order"]["id"] == stored.pk
    assert (stored.status, stored.side, stored.qty, stored.broker, stored.mode) == (
        "new",
        "buy",
        Decimal(1),
        "simulated",
        "paper",
    )
    assert memory.entries("execution")["last_order"]["value"] == {
        "order": stored.pk,
        "client_order_id": stored.client_order_id,
        "outcome": "requested",
    }
    trail = AuditRecord.objects.filter(action="order.create", subject_id=str(stored.pk))
    assert list(trail.values_list("actor__username", flat=True)) == ["the-operator"]


def test_the_risk_manager_refuses_what_it_would_refuse_a_person(as_role, invoke, book):
    version = book()

    refused = invoke(as_role("operator"), "place_order", order=order(version, qty="5000"))
    checked = invoke(as_role("viewer"), "check_position_size", order=order(version, qty="5000")).json()[
        "result"
    ]
    fine = invoke(as_role("viewer", "v2"), "check_position_size", order=order(version, qty="1")).json()[
        "result"
    ]

    assert refused.status_code == 409
    body = refused.json()
    assert body["message"].startswith("the risk manager refuses the order: ")
    codes = [r["code"] for r in body["details"]["reasons"]]
    assert codes == [r["code"] for r in checked["reasons"]]
    assert checked["approved"] is False
    assert codes == ["buying_power", "risk_per_trade", "capital_deployed"]
    assert fine == {"approved": True, "reasons": []}
    assert not Order.objects.filter(reason="agent order").exists()
    assert AuditRecord.objects.filter(action="order.refused").count() == 1


def test_no_order_while_halted_and_none_of_a_version_not_approved_for_its_mode(as_role, invoke, book, people):
    version = book()
    kill_switch_engage(reason="drill", by=people["olga"], version=version)

    halted = invoke(as_role("operator"), "place_order", order=order(version))

    assert halted.status_code == 403
    assert halted.json()["message"] == (
        f"paper trading of {version.name} v1 refused: trading is HALTED (the kill switch); "
        "leaving it needs an approved reset"
    )


def test_live_orders_need_live_rights_granted_in_the_admin_and_then_pass_the_live_checks(
    as_role, invoke, book, settings
):
    version = book()
    TradingAccount.objects.create(
        strategy_version=version, mode="live", broker="alpaca", initial_capital=1, cash=1
    )
    operator = as_role("operator")
    live = order(version, mode="live")

    without = invoke(operator, "place_order", order=live)
    operator.user.user_permissions.add(Permission.objects.get(codename="trade_live"))
    operator.force_authenticate(type(operator.user).objects.get(pk=operator.user.pk))
    granted = invoke(operator, "place_order", order=live)

    assert (without.status_code, without.json()["error"]) == (403, "forbidden")
    assert without.json()["message"].startswith(
        "an agent places live orders only for a user granted live rights"
    )
    assert granted.status_code == 403  # past the agents' gate: the version's own live checks
    assert granted.json()["message"] == (
        f"live trading of {version.name} v1 refused: the version is paper, not live or live_approved; "
        "LIVE_TRADING_ENABLED is false"
    )


def test_through_a_real_broker_the_order_is_sent_at_once(as_role, invoke, at_alpaca, fake):  # noqa: F811
    version = at_alpaca.strategy_version

    placed = invoke(
        as_role("operator"),
        "place_order",
        order=order(version, qty="1", order_type="limit", limit_price="50"),
    )

    result = placed.json()["result"]
    assert (result["outcome"], result["order"]["status"], result["order"]["broker"]) == (
        "sent",
        "accepted",
        "alpaca",
    )
    sent = fake.order(result["order"]["client_order_id"])
    assert (sent["side"], sent["qty"], sent["type"], sent["limit_price"]) == ("buy", "1", "limit", "50")
    status = invoke(
        as_role("viewer"), "check_order_status", client_order_id=result["order"]["client_order_id"]
    )
    assert status.json()["result"] == result["order"]


def test_a_limit_order_needs_its_price(as_role, invoke, book):
    answer = invoke(as_role("operator"), "place_order", order=order(book(), order_type="limit"))

    assert (answer.status_code, answer.json()["message"]) == (
        400,
        "a limit order needs exactly its own price fields",
    )


def test_reconciling_with_a_broker_that_disagrees_halts_the_versions(as_role, invoke, at_alpaca, fake):  # noqa: F811
    answer = invoke(as_role("operator"), "reconcile_positions", broker="alpaca").json()["result"]

    version = at_alpaca.strategy_version
    assert answer == {
        "broker": "alpaca",
        "mode": "paper",
        "clean": False,
        "orders_checked": 0,
        "orders_settled": [],
        "mismatches": ["AAA: local 3, broker 0"],
        "failure": "",
        "halted": [version.pk],
    }
    state = invoke(as_role("viewer"), "check_kill_switch", strategy_version=version.pk).json()["result"]
    assert (state["version"], state["engaged"]) == ("halted", True)


def test_positions_and_order_status_read_as_the_api_shows_them(as_role, invoke, book):
    version = book(positions=3)
    viewer = as_role("viewer")

    positions = invoke(viewer, "get_positions", strategy_version=version.pk).json()["result"]
    flat = invoke(viewer, "get_positions", symbol="zzz", include_flat=True).json()["result"]
    bad = invoke(viewer, "get_positions", mode="demo")
    one = Order.objects.filter(strategy_version=version).order_by("id").first()
    by_id = invoke(viewer, "check_order_status", order_id=one.pk).json()["result"]
    neither = invoke(viewer, "check_order_status")

    assert positions["count"] == 3
    assert (
        positions["positions"]
        == viewer.get(f"/api/v1/positions/?strategy_version={version.pk}").json()["results"]
    )
    assert [(p["symbol"], p["side"]) for p in flat["positions"]] == [("ZZZ", "flat")]
    assert bad.status_code == 400
    assert by_id == viewer.get(f"/api/v1/orders/{one.pk}/").json()
    assert (neither.status_code, neither.json()["message"]) == (
        400,
        "give either order_id or client_order_id",
    )


def test_the_paper_session_sends_an_agents_order_at_its_next_bar_checked_by_its_risk_manager(
    as_role, invoke, promoted, people
):
    config = SESSION_CONFIG.model_copy(update={"name": "by_agent"})
    version = promoted(config)
    history, steps = replay_bars({"AAA": BARS}, START)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(10_000), history=history
    )
    session.on_bars(steps[0])
    operator = as_role("operator")
    held = session.portfolio.position("AAA")

    # a limit above the market: its price is what the risk manager checks (no bar is stored here)
    limit = {"order_type": "limit", "limit_price": "60"}
    bought = invoke(operator, "place_order", order=order(version, **limit), key="one").json()["result"][
        "order"
    ]
    session.on_bars(steps[1])
    refused = invoke(operator, "place_order", order=order(version, **limit), key="two").json()["result"][
        "order"
    ]
    strategy_pause(version=version, by=people["olga"], reason="no more buying")  # REDUCING from the next bar
    session.on_bars(steps[2])

    first, second = Order.objects.get(pk=bought["id"]), Order.objects.get(pk=refused["id"])
    assert (first.status, first.filled_qty) == ("filled", Decimal(1))
    assert session.portfolio.position("AAA") == held + 1
    assert second.status == "canceled"
    assert second.status_reason == (
        "Trading is reducing (global active, strategy reducing): only orders that shrink a position pass, "
        f"and this one would buy 1 AAA while {held + 1:.0f} are held."
    )
    assert AuditRecord.objects.filter(action="order.refused", subject_id=str(version.pk)).count() == 1
