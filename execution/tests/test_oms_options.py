"""Option orders through the OMS: stored with their legs before they are sent, sent once to Alpaca
(the local fake), their legs' fills recorded once per leg into positions of the contracts and cash,
checked by the risk manager on the latest chain when placed by hand, and listed with their legs."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from execution.brokers import broker_client_build
from execution.core.brokers.base import LegRequest
from execution.manual_order_services import manual_order_place
from execution.models import Fill, Order, Position, TradingAccount
from execution.position_services import position_close
from execution.services import OptionOrderSpec, Progress, order_place, orders_progress
from execution.tests.fake_alpaca import KEY, SECRET
from marketdata.core.errors import Conflict
from quantsite.models import AuditRecord
from strategies.core.config import StrategyConfig
from strategies.core.types import OrderType, Side

pytestmark = pytest.mark.django_db

CALL_100, CALL_105 = "AAA240621C00100000", "AAA240621C00105000"
PUT_90, PUT_85 = "AAA240621P00090000", "AAA240621P00085000"
TS = datetime(2024, 5, 2, 20, tzinfo=UTC)
CONFIG = StrategyConfig(strategy="buy_and_hold", name="options_desk", universe=["AAA"])


@pytest.fixture
def version(promoted, settings, fake):
    """A paper version trading through Alpaca (the local fake), 10,000 in cash."""
    settings.ALPACA_PAPER_API_KEY, settings.ALPACA_PAPER_API_SECRET = KEY, SECRET
    settings.ALPACA_TRADING_URL = fake.url
    version = promoted(CONFIG, "paper")
    TradingAccount.objects.create(
        strategy_version=version, mode="paper", broker="alpaca", initial_capital=10_000, cash=10_000
    )
    return version


@pytest.fixture
def client(version):
    return broker_client_build(broker="alpaca", mode="paper", capital=0.0)


def spread(qty=2, limit="1.50", **kwargs) -> OptionOrderSpec:
    """A bull call spread: buy the 100 call, sell the 105 call."""
    legs = (LegRequest(CALL_100, Side.BUY), LegRequest(CALL_105, Side.SELL))
    return OptionOrderSpec(legs, Decimal(qty), OrderType.LIMIT, Decimal(limit), **kwargs)


def place(version, client, spec, signal="spread 1") -> Order:
    return order_place(
        version=version, mode="paper", broker="alpaca", spec=spec, signal=signal, client=client
    )


def read_back(client, order: Order) -> Order:
    """What Alpaca says of the order now, applied (as reconciliation or a lookup applies it)."""
    report = client.get_order(order.client_order_id)
    return orders_progress(items=[Progress(report, TS)])[order.client_order_id]


def test_a_spread_is_stored_with_its_legs_and_sent_once_as_one_mleg_order(version, client, fake):
    # when
    order = place(version, client, spread())
    again = place(version, client, spread())

    # then
    assert again.pk == order.pk
    assert fake.count("POST", "/v2/orders") == 1
    order.refresh_from_db()
    assert (order.asset_class, order.symbol, order.side, order.qty, order.limit_price, order.status) == (
        "option",
        "AAA",
        "",
        Decimal(2),
        Decimal("1.50"),
        "accepted",
    )
    assert [(leg.index, leg.symbol, leg.side, leg.ratio) for leg in order.legs.all()] == [
        (0, CALL_100, "buy", 1),
        (1, CALL_105, "sell", 1),
    ]
    assert (
        str(order)
        == f"2.000000000 x [buy 1 {CALL_100}, sell 1 {CALL_105}] (accepted, {order.client_order_id})"
    )
    posted = fake.posted[0]
    assert (posted["order_class"], posted["qty"], posted["limit_price"], posted["client_order_id"]) == (
        "mleg",
        "2",
        "1.50",
        order.client_order_id,
    )


def test_a_spreads_fill_is_recorded_once_per_leg_into_contracts_and_cash(version, client, fake):
    # given
    order = place(version, client, spread())
    fake.fill_legs(order.client_order_id, 2, [Decimal("2.10"), Decimal("0.82")])

    # when: the same fill read back three times (as lookups and reconciliation read it)
    read_back(client, order)
    read_back(client, order)
    order = orders_progress(items=[Progress(client.get_order(order.client_order_id), TS)], derive=True)[
        order.client_order_id
    ]

    # then: the order filled at the net, each leg's fill in contracts and the money they moved
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", Decimal(2), Decimal("1.28"))
    fills = Fill.objects.order_by("leg__index")
    assert [(f.leg.symbol, f.qty, f.notional, f.price) for f in fills] == [
        (CALL_100, Decimal(2), Decimal(420), Decimal(210)),
        (CALL_105, Decimal(2), Decimal(164), Decimal(82)),
    ]
    positions = {p.symbol: (p.qty, p.avg_price) for p in Position.objects.all()}
    assert positions == {CALL_100: (Decimal(2), Decimal(210)), CALL_105: (Decimal(-2), Decimal(82))}
    assert TradingAccount.objects.get().cash == Decimal(10_000) - Decimal(256)
    assert [(leg.filled_qty, leg.avg_fill_price) for leg in order.legs.all()] == [
        (Decimal(2), Decimal("2.10")),
        (Decimal(2), Decimal("0.82")),
    ]


def test_a_partial_then_full_fill_records_each_legs_new_contracts_at_their_own_money(version, client, fake):
    # given
    order = place(version, client, spread(qty=3))

    # when
    fake.fill_legs(order.client_order_id, 1, [Decimal("2.00"), Decimal("0.80")])
    assert read_back(client, order).status == "partially_filled"
    fake.fill_legs(order.client_order_id, 2, [Decimal("2.30"), Decimal("0.95")])
    order = read_back(client, order)

    # then: 1 at 2.00 and 2 at 2.30 on the long leg; the net is the cumulative one
    assert (order.status, order.filled_qty) == ("filled", Decimal(3))
    long_fills = Fill.objects.filter(leg__symbol=CALL_100).order_by("id")
    assert [(f.qty, f.notional) for f in long_fills] == [
        (Decimal(1), Decimal(200)),
        (Decimal(2), Decimal(460)),
    ]
    assert order.avg_fill_price == Decimal("2.2") - Decimal("0.9")
    assert TradingAccount.objects.get().cash == Decimal(10_000) - (660 - 270)


def test_closing_the_spread_sends_to_close_intents_and_realizes_its_pnl_per_leg(version, client, fake):
    # given: the spread bought at 1.28 a unit
    opening = place(version, client, spread())
    fake.fill_legs(opening.client_order_id, 2, [Decimal("2.10"), Decimal("0.82")])
    read_back(client, opening)
    closing_legs = (LegRequest(CALL_100, Side.SELL), LegRequest(CALL_105, Side.BUY))
    close = OptionOrderSpec(closing_legs, Decimal(2), OrderType.LIMIT, Decimal("-1.80"), reduce_only=True)

    # when: sold for a credit of 1.90 a unit
    closing = place(version, client, close, signal="spread 1 close")
    fake.fill_legs(closing.client_order_id, 2, [Decimal("3.00"), Decimal("1.10")])
    closing = read_back(client, closing)

    # then
    assert [leg["position_intent"] for leg in fake.posted[1]["legs"]] == ["sell_to_close", "buy_to_close"]
    assert (closing.reduce_only, closing.limit_price, closing.avg_fill_price) == (
        True,
        Decimal("-1.80"),
        Decimal("-1.90"),
    )
    positions = {p.symbol: (p.qty, p.realized_pnl) for p in Position.objects.all()}
    assert positions == {CALL_100: (0, Decimal(180)), CALL_105: (0, Decimal(-56))}
    assert TradingAccount.objects.get().cash == Decimal(10_000) - 256 + 380


def test_an_iron_condor_for_a_credit_is_stored_with_a_negative_limit(version, client, fake):
    # given
    legs = (
        LegRequest(PUT_85, Side.BUY),
        LegRequest(PUT_90, Side.SELL),
        LegRequest(CALL_100, Side.SELL),
        LegRequest(CALL_105, Side.BUY),
    )

    # when
    order = place(version, client, OptionOrderSpec(legs, Decimal(1), OrderType.LIMIT, Decimal("-1.10")))
    fake.fill_legs(
        order.client_order_id, 1, [Decimal("0.40"), Decimal("1.05"), Decimal("0.95"), Decimal("0.35")]
    )
    order = read_back(client, order)

    # then: a credit received: cash up by 125
    assert (order.limit_price, order.avg_fill_price, order.legs.count()) == (
        Decimal("-1.10"),
        Decimal("-1.25"),
        4,
    )
    assert TradingAccount.objects.get().cash == Decimal(10_125)
    assert Fill.objects.count() == 4


def test_alpacas_refusal_of_bad_legs_leaves_the_order_rejected_with_its_reason(version, client, fake):
    # given: ratios not in lowest terms
    legs = (LegRequest(CALL_100, Side.BUY, 2), LegRequest(CALL_105, Side.SELL, 2))

    # when
    order = place(version, client, OptionOrderSpec(legs, Decimal(1), OrderType.LIMIT, Decimal("2.50")))

    # then
    assert (order.status, order.status_reason) == (
        "rejected",
        "Alpaca rejected order " + order.client_order_id + ": leg ratios must be in their simplest form",
    )
    assert fake.orders == {}


# --- placed by hand: the risk manager sees the option order -----------------------------------------


EXPIRY = "250221"  # of the synthetic chain of AAA on 2024-12-31, its last stored bar (at 89.19)


def condor(wing: int, limit="-0.20") -> OptionOrderSpec:
    """An iron condor on AAA: the 83 put and 95 call sold, the wings wing dollars further out."""

    def leg(right: str, strike: int, side: Side) -> LegRequest:
        return LegRequest(f"AAA{EXPIRY}{right}{strike * 1000:08d}", side)

    legs = (
        leg("P", 83 - wing, Side.BUY),
        leg("P", 83, Side.SELL),
        leg("C", 95, Side.SELL),
        leg("C", 95 + wing, Side.BUY),
    )
    return OptionOrderSpec(legs, Decimal(1), OrderType.LIMIT, Decimal(limit), reason="by hand")


def test_an_iron_condor_placed_by_hand_within_the_limits_is_checked_on_the_chain_then_sent(
    version, fake, people, aaa
):
    # when
    placed = manual_order_place(version=version, mode="paper", spec=condor(wing=1), by=people["olga"])

    # then: the real risk manager measured it (max loss 100 - 20 = 80, within the policy) and it went
    assert (placed.outcome, placed.order.status, placed.order.asset_class) == ("sent", "accepted", "option")
    assert fake.posted[0]["order_class"] == "mleg"
    assert not AuditRecord.objects.filter(action="order.refused").exists()


def test_an_iron_condor_beyond_the_max_risk_per_trade_is_refused_with_the_reason_and_audited(
    version, fake, people, aaa
):
    # when / then: wings 5 wide lose up to 500 - 20 = 480, above the policy's risk per trade
    with pytest.raises(
        Conflict, match=r"the risk manager refuses the order: The order risks 480\.00"
    ) as refused:
        manual_order_place(version=version, mode="paper", spec=condor(wing=5), by=people["olga"])
    assert [r["code"] for r in refused.value.details["reasons"]] == ["risk_per_trade"]
    assert Order.objects.count() == 0
    assert fake.posted == []
    record = AuditRecord.objects.get(action="order.refused")
    assert record.summary.startswith("1 x [buy 1 AAA250221P00078000, sell 1 AAA250221P00083000, ")
    assert "The order risks 480.00 (its max loss at expiry at the net price -0.2)" in record.summary
    assert record.data["codes"] == ["risk_per_trade"]


def test_options_held_whose_greeks_no_chain_gives_refuse_a_new_option_order(version, fake, people, aaa):
    # given: a contract held that the chain of AAA does not list
    Position.objects.create(
        strategy_version=version, mode="paper", symbol="AAA250221C00300000", qty=1, avg_price=5
    )

    # when / then
    with pytest.raises(Conflict, match="no chain gives the greeks of AAA250221C00300000"):
        manual_order_place(version=version, mode="paper", spec=condor(wing=1), by=people["olga"])
    assert AuditRecord.objects.get(action="order.refused").data["codes"] == ["option_exposure_missing"]
    assert fake.posted == []


# --- listed --------------------------------------------------------------------------------------------


def test_the_api_lists_an_option_order_with_its_legs_and_its_fills_by_leg(version, client, fake, api):
    # given
    order = place(version, client, spread())
    fake.fill_legs(order.client_order_id, 2, [Decimal("2.10"), Decimal("0.82")])
    read_back(client, order)

    # when
    orders = api.get("/api/v1/orders/").json()["results"]
    fills = api.get("/api/v1/fills/", {"symbol": CALL_105}).json()["results"]

    # then
    listed = orders[0]
    assert (listed["asset_class"], listed["symbol"], listed["side"], listed["multiplier"]) == (
        "option",
        "AAA",
        "",
        100,
    )
    assert listed["legs"] == [
        {"index": 0, "symbol": CALL_100, "side": "buy", "ratio": 1, "filled_qty": "2.000000000",
         "avg_fill_price": "2.100000000000000000"},
        {"index": 1, "symbol": CALL_105, "side": "sell", "ratio": 1, "filled_qty": "2.000000000",
         "avg_fill_price": "0.820000000000000000"},
    ]  # fmt: skip
    assert [(f["symbol"], f["side"], f["leg"], f["qty"], f["notional"]) for f in fills] == [
        (CALL_105, "sell", 1, "2.000000000", "164.000000000000000000")
    ]


def test_an_option_position_is_not_closed_by_an_order_of_shares(version, client, fake, people):
    # given
    order = place(version, client, spread())
    fake.fill_legs(order.client_order_id, 2, [Decimal("2.10"), Decimal("0.82")])
    read_back(client, order)
    held = Position.objects.get(symbol=CALL_100)

    # when / then
    with pytest.raises(Conflict, match="is an option contract: close it with a reduce-only option order"):
        position_close(position=held, by=people["olga"])
    assert Order.objects.count() == 1
