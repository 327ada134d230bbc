"""The paper broker takes option orders as any broker does (an OptionOrderRequest, read back with
each leg's fills) and fills them against the latest chain it was given."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from execution.core.brokers.base import (
    BrokerLeg,
    BrokerPosition,
    LegRequest,
    OptionOrderRequest,
    OrderRejected,
)
from execution.core.brokers.simulated import SimulatedBrokerClient, decimal_of
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.oms import order_send
from execution.core.option_fills import OptionCommission
from marketdata.core.errors import NotFound
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

DAYS = [datetime(2024, 3, d, tzinfo=UTC) for d in (14, 15, 18)]
EXPIRY = date(2024, 3, 15)
SHORT, LONG = (OptionContract("AAA", EXPIRY, Decimal(k), "P").symbol for k in (95, 90))


def chain(day=0, spot=100.0, short=(1.90, 2.00), long=(0.80, 0.90)) -> ChainSnapshot:
    frame = chain_frame([DAYS[day]] * 2, [SHORT, LONG], bid=[short[0], long[0]], ask=[short[1], long[1]])
    return ChainSnapshot(frame, spot=spot, ts=DAYS[day])


def client(cash=10_000.0) -> SimulatedBrokerClient:
    return SimulatedBrokerClient(
        cash=cash,
        commission=CommissionModel(),
        slippage=SlippageModel(bps=0),
        option_commission=OptionCommission(0.65),
    )


def put_spread(cid: str, qty=1, limit: str | None = None, tif=TimeInForce.DAY) -> OptionOrderRequest:
    """A bull put spread: sell the 95 put, buy the 90 put."""
    legs = (LegRequest(SHORT, Side.SELL), LegRequest(LONG, Side.BUY))
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return OptionOrderRequest(cid, legs, Decimal(qty), kind, None if limit is None else Decimal(limit), tif)


def test_an_option_order_fills_at_the_touch_and_reads_back_with_its_legs_positions_and_account():
    # given
    paper = client()
    paper.chain_update(chain())
    updates = []
    paper.stream_updates(updates.append)

    # when: sent as the OMS sends any order
    sent = order_send(paper, put_spread("cc-1", qty=2))

    # then
    report = sent.order
    assert (report.status, report.symbol, report.side, report.filled_qty, report.avg_fill_price) == (
        OrderStatus.FILLED,
        "AAA",
        None,
        Decimal(2),
        Decimal("-1.0"),
    )
    assert report.legs == (
        BrokerLeg(SHORT, Side.SELL, Decimal(2), Decimal("1.9")),
        BrokerLeg(LONG, Side.BUY, Decimal(2), Decimal("0.9")),
    )
    assert paper.get_order("cc-1") == report
    assert paper.get_option_fill(put_spread("cc-1", qty=2)) == OptionFill(
        "cc-1", "AAA", 2, -1.0, (1.9, 0.9), pytest.approx(2.60), DAYS[0]
    )
    assert [(u.event, u.fill_qty, u.fill_price, u.commission, u.order.legs) for u in updates] == [
        ("fill", Decimal(2), Decimal("-1.0"), Decimal("2.6"), report.legs)
    ]
    mids = [chain().quote(symbol).mid for symbol in (SHORT, LONG)]  # 1.95 and 0.85, as floats add up
    assert paper.get_positions() == [
        BrokerPosition(SHORT, Decimal(-2), Decimal("1.9"), decimal_of(-200 * mids[0])),
        BrokerPosition(LONG, Decimal(2), Decimal("0.9"), decimal_of(200 * mids[1])),
    ]
    account = paper.get_account()
    assert account.cash == Decimal("10197.4")
    assert account.equity == Decimal("9977.4")  # 10,197.40 - 390 + 170
    assert account.buying_power == Decimal("9197.4")  # less the 1,000 the spreads could cost


def test_a_limit_works_until_a_chain_reaches_it_or_it_is_canceled():
    # given
    paper = client()
    paper.chain_update(chain())
    updates = []
    paper.stream_updates(updates.append)

    # when
    patient = paper.place_option_order(put_spread("cc-2", limit="-1.20", tif=TimeInForce.GTC))
    other = paper.place_option_order(put_spread("cc-3", limit="-1.50", tif=TimeInForce.GTC))
    open_before = [o.client_order_id for o in paper.get_open_orders()]
    fills = paper.chain_update(chain(1, short=(2.20, 2.30)))
    paper.cancel_order("cc-3")

    # then
    assert (patient.status, patient.filled_qty, other.status) == (
        OrderStatus.ACCEPTED,
        Decimal(0),
        OrderStatus.ACCEPTED,
    )
    assert open_before == ["cc-2", "cc-3"]
    assert [(f.order_id, round(f.net_price, 2)) for f in fills] == [("cc-2", -1.30)]
    filled, canceled = paper.get_order("cc-2"), paper.get_order("cc-3")
    assert (filled.status, filled.avg_fill_price, filled.updated_at) == (
        OrderStatus.FILLED,
        Decimal("-1.3"),
        DAYS[1],
    )
    assert canceled.status == OrderStatus.CANCELED
    assert [(u.event, u.order.client_order_id) for u in updates] == [("fill", "cc-2"), ("canceled", "cc-3")]
    assert paper.get_open_orders() == []


def test_a_day_limit_the_next_chain_does_not_reach_expires_and_says_so():
    paper = client()
    paper.chain_update(chain())
    updates = []
    paper.stream_updates(updates.append)
    paper.place_option_order(put_spread("cc-5", limit="-1.50"))

    paper.chain_update(chain(1))

    assert paper.get_order("cc-5").status == OrderStatus.EXPIRED
    assert [(u.event, u.order.status) for u in updates] == [("expired", OrderStatus.EXPIRED)]


def test_refusals_say_why():
    paper = client(cash=100.0)
    with pytest.raises(OrderRejected, match="no chain of AAA yet"):
        paper.place_option_order(put_spread("cc-0"))
    paper.chain_update(chain())
    with pytest.raises(OrderRejected, match=r"buying power 100\.00 cannot carry this order"):
        paper.place_option_order(put_spread("cc-4"))
    with pytest.raises(OrderRejected, match="client_order_id cc-4 must be unique"):
        paper.place_option_order(put_spread("cc-4"))
    missing = OptionContract("AAA", EXPIRY, Decimal(80), "P").symbol
    with pytest.raises(OrderRejected, match="AAA240315P00080000 is not quoted in the chain of 2024-03-14"):
        paper.place_option_order(OptionOrderRequest("cc-6", (LegRequest(missing, Side.BUY),), Decimal(1)))
    with pytest.raises(NotFound, match="the paper broker has no order cc-7"):
        paper.cancel_order("cc-7")
    assert paper.get_order("cc-7") is None


def test_contracts_expiring_settle_when_the_chain_of_their_day_comes():
    paper = client()
    paper.chain_update(chain())
    paper.place_option_order(put_spread("cc-8"))

    paper.chain_update(chain(1, spot=93.0))

    assert paper.get_positions() == []
    assert [(s.symbol, s.price, s.reason) for s in paper.portfolio.settlements] == [
        ("AAA240315P00095000", 2.0, "cash_settled"),
        ("AAA240315P00090000", 0.0, "expired"),
    ]
    assert paper.get_account().cash == Decimal("9898.7")  # 10,000 + 100 credit - 1.30 - 200 at expiry


@pytest.mark.django_db
def test_the_oms_sends_a_stored_option_order_to_the_paper_broker_as_to_alpaca(promoted):
    # given: a paper version on the paper broker, its stream applied as a session applies it
    from execution.models import Fill, Position, TradingAccount
    from execution.services import OptionOrderSpec, Progress, account_open, order_place, orders_progress
    from strategies.core.config import StrategyConfig

    version = promoted(StrategyConfig(strategy="buy_and_hold", name="paper_desk", universe=["AAA"]))
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    paper = client()
    paper.chain_update(chain())
    paper.stream_updates(lambda update: orders_progress(items=[Progress.of(update)]))
    legs = (LegRequest(SHORT, Side.SELL), LegRequest(LONG, Side.BUY))

    # when: placed twice with the same signal
    spec = OptionOrderSpec(legs, Decimal(2), OrderType.LIMIT, Decimal("-0.90"))
    order = order_place(
        version=version, mode="paper", broker="simulated", spec=spec, signal="put spread", client=paper
    )
    again = order_place(
        version=version, mode="paper", broker="simulated", spec=spec, signal="put spread", client=paper
    )

    # then: sent once, filled at the touch, each leg's fill recorded once with the commission
    order.refresh_from_db()
    assert again.pk == order.pk
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", Decimal(2), Decimal("-1.0"))
    fills = Fill.objects.order_by("leg__index")
    assert [(f.leg.symbol, f.qty, f.notional, f.commission) for f in fills] == [
        (SHORT, Decimal(2), Decimal(380), Decimal("2.6")),
        (LONG, Decimal(2), Decimal(180), Decimal(0)),
    ]
    positions = {p.symbol: p.qty for p in Position.objects.all()}
    assert positions == {SHORT: Decimal(-2), LONG: Decimal(2)}
    assert TradingAccount.objects.get().cash == Decimal("10197.4") == paper.get_account().cash
