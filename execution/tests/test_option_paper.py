"""The paper broker fills option orders against the latest chain it was given."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from execution.core.brokers.base import BrokerPosition, OrderRejected
from execution.core.brokers.simulated import SimulatedBrokerClient, decimal_of
from execution.core.costs import CommissionModel, SlippageModel
from execution.core.option_fills import OptionCommission
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionLeg, OptionOrder
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

DAYS = [datetime(2024, 3, d, tzinfo=UTC) for d in (14, 15, 18)]
EXPIRY = date(2024, 3, 15)
SHORT, LONG = (OptionContract("AAA", EXPIRY, Decimal(k), "P") for k in (95, 90))


def chain(day=0, spot=100.0, short=(1.90, 2.00), long=(0.80, 0.90)) -> ChainSnapshot:
    frame = chain_frame(
        [DAYS[day]] * 2, [SHORT.symbol, LONG.symbol], bid=[short[0], long[0]], ask=[short[1], long[1]]
    )
    return ChainSnapshot(frame, spot=spot, ts=DAYS[day])


def client(cash=10_000.0) -> SimulatedBrokerClient:
    return SimulatedBrokerClient(
        cash=cash,
        commission=CommissionModel(),
        slippage=SlippageModel(bps=0),
        option_commission=OptionCommission(0.65),
    )


def put_spread(qty=1, **kw) -> OptionOrder:
    return OptionOrder((OptionLeg(SHORT, Side.SELL), OptionLeg(LONG, Side.BUY)), qty, **kw)


def test_an_option_order_fills_at_the_touch_of_the_latest_chain_and_shows_in_positions_and_account():
    paper = client()
    paper.chain_update(chain())

    fill = paper.place_option_order(put_spread(qty=2, id="cc-1"))

    assert (fill.order_id, round(fill.net_price, 2), fill.commission) == ("cc-1", -1.0, pytest.approx(2.60))
    assert paper.get_option_order("cc-1").status is OrderStatus.FILLED
    mids = [chain().quote(c.symbol).mid for c in (SHORT, LONG)]  # 1.95 and 0.85, as floats add up
    assert paper.get_positions() == [
        BrokerPosition("AAA240315P00095000", Decimal(-2), Decimal("1.9"), decimal_of(-200 * mids[0])),
        BrokerPosition("AAA240315P00090000", Decimal(2), Decimal("0.9"), decimal_of(200 * mids[1])),
    ]
    account = paper.get_account()
    assert account.cash == Decimal("10197.4")
    assert account.equity == Decimal("9977.4")  # 10,197.40 - 390 + 170
    assert account.buying_power == Decimal("9197.4")  # less the 1,000 the spreads could cost


def test_a_limit_works_until_a_chain_reaches_it_or_it_is_canceled():
    paper = client()
    paper.chain_update(chain())
    patient = put_spread(order_type=OrderType.LIMIT, limit_price=-1.20, tif=TimeInForce.GTC, id="cc-2")
    other = put_spread(order_type=OrderType.LIMIT, limit_price=-1.50, tif=TimeInForce.GTC, id="cc-3")

    assert paper.place_option_order(patient) is None
    assert paper.place_option_order(other) is None
    fills = paper.chain_update(chain(1, short=(2.20, 2.30)))
    paper.cancel_order("cc-3")

    assert [(f.order_id, round(f.net_price, 2)) for f in fills] == [("cc-2", -1.30)]
    assert (patient.status, other.status) == (OrderStatus.FILLED, OrderStatus.CANCELED)
    assert paper.broker.working_options == []


def test_refusals_say_why():
    paper = client(cash=100.0)
    with pytest.raises(OrderRejected, match="no chain of AAA yet"):
        paper.place_option_order(put_spread())
    paper.chain_update(chain())
    with pytest.raises(OrderRejected, match=r"buying power 100\.00 cannot carry this order"):
        paper.place_option_order(put_spread(id="cc-4"))
    with pytest.raises(OrderRejected, match="client_order_id cc-4 must be unique"):
        paper.place_option_order(put_spread(id="cc-4"))
    with pytest.raises(OrderRejected, match="AAA240315P00080000 is not quoted in the chain of 2024-03-14"):
        paper.place_option_order(
            OptionOrder((OptionLeg(OptionContract("AAA", EXPIRY, Decimal(80), "P"), Side.BUY),), 1)
        )


def test_contracts_expiring_settle_when_the_chain_of_their_day_comes():
    paper = client()
    paper.chain_update(chain())
    paper.place_option_order(put_spread(qty=1))

    paper.chain_update(chain(1, spot=93.0))

    assert paper.get_positions() == []
    assert [(s.symbol, s.price, s.reason) for s in paper.portfolio.settlements] == [
        ("AAA240315P00095000", 2.0, "cash_settled"),
        ("AAA240315P00090000", 0.0, "expired"),
    ]
    assert paper.get_account().cash == Decimal("9898.7")  # 10,000 + 100 credit - 1.30 - 200 at expiry
