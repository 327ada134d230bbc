"""The option book: fills, marks, expiry in cash or shares, buying power, and spreads as trades."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.core.option_book import OptionBook, OptionTrade, OptionTradeLeg, Settlement
from execution.core.option_fills import OptionCommission, fill_option_order
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionLeg, OptionOrder
from strategies.core.types import Fill, Order, Side

OPEN = datetime(2024, 3, 15, tzinfo=UTC)
LATER = datetime(2024, 4, 1, tzinfo=UTC)
EXPIRY = date(2024, 4, 19)
EXPIRY_TS = datetime(2024, 4, 19, tzinfo=UTC)
# strike, right: (bid, ask) on OPEN, with AAA at 100
QUOTES = {
    (90, "P"): (0.80, 0.90),
    (95, "P"): (1.90, 2.00),
    (100, "P"): (3.90, 4.10),
    (100, "C"): (4.00, 4.20),
    (105, "C"): (2.10, 2.25),
    (110, "C"): (0.95, 1.05),
}


def contract(strike, right) -> OptionContract:
    return OptionContract("AAA", EXPIRY, Decimal(strike), right)


def chain(quotes=QUOTES, spot=100.0, ts=OPEN) -> ChainSnapshot:
    symbols = [contract(k, r).symbol for k, r in quotes]
    bids, asks = zip(*quotes.values(), strict=True)
    return ChainSnapshot(chain_frame([ts] * len(symbols), symbols, bid=bids, ask=asks), spot=spot, ts=ts)


def leg(strike, right, side, ratio=1) -> OptionLeg:
    return OptionLeg(contract(strike, right), side, ratio)


def iron_condor(qty=1, **kw) -> OptionOrder:
    return OptionOrder(
        (leg(90, "P", Side.BUY), leg(95, "P", Side.SELL), leg(105, "C", Side.SELL), leg(110, "C", Side.BUY)),
        qty,
        **kw,
    )


def put_spread(qty=1, **kw) -> OptionOrder:
    return OptionOrder((leg(95, "P", Side.SELL), leg(90, "P", Side.BUY)), qty, **kw)


def trade(book, order, at=None, per_contract=0.65):
    """Fill order at the touch of the chain (OPEN's by default) into book; returns the fill and the
    trades it closed."""
    at = at or chain()
    fill = fill_option_order(order, at, OptionCommission(per_contract))
    assert book.refusal(order, fill) is None
    return fill, book.apply_option_fill(order, fill, at)


def test_an_iron_condor_that_expires_between_its_short_strikes_keeps_its_credit_less_commission():
    book = OptionBook(10_000.0)
    fill, _ = trade(book, iron_condor(qty=2))
    assert fill.net_price == pytest.approx(-2.05)  # 0.90 - 1.90 - 2.10 + 1.05

    settled = book.settle_expiries(EXPIRY_TS, {"AAA": 101.0})

    # credit 2.05 x 100 x 2 = 410.00; commission 8 contracts x 0.65 = 5.20
    assert book.cash == pytest.approx(10_000 + 410.0 - 5.20)
    assert [(s.symbol, s.contracts, s.price, s.reason) for s in settled] == [
        ("AAA240419P00090000", 2, 0.0, "expired"),
        ("AAA240419P00095000", -2, 0.0, "expired"),
        ("AAA240419C00105000", -2, 0.0, "expired"),
        ("AAA240419C00110000", 2, 0.0, "expired"),
    ]
    [condor] = book.option_trades
    assert (condor.units, condor.entry_price, condor.exit_price) == (2, pytest.approx(-2.05), 0.0)
    assert condor.pnl == pytest.approx(404.80)
    assert condor.commission == pytest.approx(5.20)
    assert [round(leg.pnl, 2) for leg in condor.legs] == [-180.0, 380.0, 420.0, -210.0]
    assert (condor.exit_reason, condor.entry_time, condor.exit_time) == ("expired", OPEN, EXPIRY_TS)
    assert book.option_positions == {}
    assert book.equity == pytest.approx(10_404.80)


def test_an_iron_condor_settled_in_cash_below_its_short_put_loses_the_arithmetic_to_the_cent():
    book = OptionBook(10_000.0, settlement="cash")
    trade(book, iron_condor())

    book.settle_expiries(EXPIRY_TS, {"AAA": 93.37})

    # the 95 put is worth 1.63 at expiry: 205.00 credit - 163.00 - 2.60 commission = 39.40
    [condor] = book.option_trades
    assert condor.exit_price == pytest.approx(-1.63)
    assert round(condor.pnl, 2) == 39.40
    assert [round(leg.pnl, 2) for leg in condor.legs] == [-90.0, 27.0, 210.0, -105.0]
    assert round(book.cash, 2) == 10_039.40
    assert [s.reason for s in book.settlements] == ["expired", "cash_settled", "expired", "expired"]
    assert book.settlements[1].pnl == pytest.approx(27.0)  # sold at 1.90, settled at 1.63


def test_a_vertical_closed_before_expiry_is_one_trade_with_the_pnl_of_each_leg():
    book = OptionBook(10_000.0)
    opening = put_spread(qty=3)
    trade(book, opening, per_contract=1.0)  # credit 1.90 - 0.90 = 1.00
    later = chain({(90, "P"): (0.30, 0.35), (95, "P"): (0.60, 0.70)}, spot=104.0, ts=LATER)

    close = OptionOrder((leg(95, "P", Side.BUY), leg(90, "P", Side.SELL)), 3, reason="profit target")
    _, trades = trade(book, close, at=later, per_contract=1.0)

    # bought back at 0.70 - 0.30 = 0.40: (1.00 - 0.40) x 100 x 3 - 12 contracts x $1 = 168.00
    assert trades == [
        OptionTrade(
            order_id=opening.id,
            underlying="AAA",
            units=3,
            legs=(
                OptionTradeLeg("AAA240419P00095000", -3, 1.90, pytest.approx(0.70), pytest.approx(360.0)),
                OptionTradeLeg("AAA240419P00090000", 3, 0.90, pytest.approx(0.30), pytest.approx(-180.0)),
            ),
            entry_time=OPEN,
            exit_time=LATER,
            entry_price=pytest.approx(-1.0),
            exit_price=pytest.approx(-0.40),
            entry_exposure=trades[0].entry_exposure,
            commission=12.0,
            pnl=pytest.approx(168.0),
            exit_reason="profit target",
        )
    ]
    assert book.option_trades == trades
    assert book.cash == pytest.approx(10_168.0)


def test_closing_part_of_the_units_gives_a_trade_of_those_units_and_the_rest_stays_open():
    book = OptionBook(10_000.0)
    trade(book, put_spread(qty=5), per_contract=1.0)
    close = OptionOrder((leg(95, "P", Side.BUY), leg(90, "P", Side.SELL)), 2)

    _, trades = trade(book, close, per_contract=1.0)

    # bought back at 2.00 - 0.80 = 1.20: (1.00 - 1.20) x 100 x 2 = -40; commission 10 x 2/5 + 4 = 8
    assert [(t.units, round(t.commission, 2), round(t.pnl, 2)) for t in trades] == [(2, 8.0, -48.0)]
    assert book.option_position(contract(95, "P").symbol) == -3
    book.settle_expiries(EXPIRY_TS, {"AAA": 120.0})
    assert [(t.units, round(t.commission, 2), round(t.pnl, 2)) for t in book.option_trades] == [
        (2, 8.0, -48.0),
        (3, 6.0, 294.0),
    ]


def test_legs_closed_one_at_a_time_make_one_trade_when_the_last_one_closes():
    book = OptionBook(10_000.0)
    trade(book, put_spread(), per_contract=0.0)
    later = chain({(90, "P"): (0.30, 0.35), (95, "P"): (0.60, 0.70)}, spot=104.0, ts=LATER)

    _, first = trade(
        book, OptionOrder((leg(95, "P", Side.BUY),), 1, reason="buy back short"), at=later, per_contract=0
    )

    assert first == []
    assert book.option_trades == []
    book.settle_expiries(EXPIRY_TS, {"AAA": 104.0})
    [spread] = book.option_trades
    assert (spread.exit_reason, spread.exit_time) == ("buy back short, expired", EXPIRY_TS)
    assert [leg.exit_price for leg in spread.legs] == [0.70, 0.0]
    assert spread.pnl == pytest.approx((1.90 - 0.70) * 100 - 0.90 * 100)


def test_an_itm_put_is_settled_in_cash_or_assigned_into_shares_at_the_strike_to_the_same_equity():
    def short_put(settlement):
        book = OptionBook(20_000.0, settlement=settlement)
        trade(book, OptionOrder((leg(100, "P", Side.SELL),), 2), per_contract=0.0)  # 3.90 credit
        book.settle_expiries(EXPIRY_TS, {"AAA": 97.5}, bar_index=24)
        book.mark("AAA", 97.5)
        return book

    cash, assign = short_put("cash"), short_put("assign")

    assert cash.cash == pytest.approx(20_000 + 780 - 2.5 * 200)
    assert cash.position("AAA") == 0
    assert assign.cash == pytest.approx(20_000 + 780 - 100 * 200)
    assert (assign.position("AAA"), assign.positions["AAA"].avg_price) == (200, 100.0)
    assert cash.equity == pytest.approx(assign.equity) == pytest.approx(20_280.0)
    [settled] = assign.settlements
    assert settled == Settlement(
        EXPIRY_TS,
        "AAA240419P00100000",
        -2,
        0.0,
        pytest.approx(780.0),
        "assigned",
        Fill("assigned-AAA240419P00100000", "AAA", Side.BUY, 200.0, 100.0, 0.0, EXPIRY_TS, 24),
    )
    assert cash.settlements[0][3:6] == (2.5, pytest.approx(280.0), "cash_settled")


def test_a_long_call_in_the_money_is_exercised_into_shares_bought_at_the_strike():
    book = OptionBook(10_000.0, settlement="assign")
    trade(book, OptionOrder((leg(105, "C", Side.BUY),), 1), per_contract=0.0)  # 2.25 paid

    [settled] = book.settle_expiries(EXPIRY_TS, {"AAA": 110.0})

    assert (settled.reason, settled.fill.side, settled.fill.qty, settled.fill.price) == (
        "exercised",
        Side.BUY,
        100.0,
        105.0,
    )
    assert book.cash == pytest.approx(10_000 - 225 - 10_500)
    book.mark("AAA", 110.0)
    assert book.equity == pytest.approx(10_000 - 225 + 500)


def test_a_covered_call_needs_the_shares_and_is_assigned_away_at_the_strike():
    book = OptionBook(20_000.0, settlement="assign")
    call = OptionOrder((leg(105, "C", Side.SELL),), 1)
    fill = fill_option_order(call, chain(), OptionCommission(0.0))
    assert book.refusal(call, fill) == (
        "the order would leave 1 short call contract(s) of AAA expiring 2024-04-19 uncovered "
        "(naked calls: neither long calls of that expiry nor shares cover them)"
    )
    book.apply_fill(Fill("s1", "AAA", Side.BUY, 100.0, 100.0, 0.0, OPEN, 0))
    book.mark("AAA", 100.0)
    before = book.buying_power()
    trade(book, call, per_contract=0.0)  # 2.10 credit

    assert book.buying_power() == pytest.approx(before + 210.0)  # the shares cover it: no requirement
    sell_shares = Order("AAA", Side.SELL, qty=50)
    assert book.refusal(sell_shares) == (
        "selling 50 shares of AAA would leave 0.5 short call contract(s) of AAA expiring 2024-04-19 "
        "uncovered (naked calls: neither long calls of that expiry nor shares cover them)"
    )
    [settled] = book.settle_expiries(EXPIRY_TS, {"AAA": 108.0})
    assert (settled.reason, settled.fill.side, settled.fill.qty, settled.fill.price) == (
        "assigned",
        Side.SELL,
        100.0,
        105.0,
    )
    assert book.position("AAA") == 0
    assert book.cash == pytest.approx(20_000 - 10_000 + 210 + 10_500)
    assert book.positions["AAA"].realized_pnl == pytest.approx(500.0)
    assert book.option_trades[0].pnl == pytest.approx(210.0)


def test_buying_power_falls_by_the_max_loss_of_a_defined_risk_spread_and_the_strike_of_a_cash_secured_put():
    for order in (
        iron_condor(qty=3),
        put_spread(qty=2),
        OptionOrder((leg(100, "C", Side.BUY), leg(110, "C", Side.SELL)), 4),
    ):
        book = OptionBook(10_000.0)
        fill, _ = trade(book, order)
        max_loss = order.max_loss(fill.net_price) * fill.qty
        assert 10_000 - book.buying_power() == pytest.approx(max_loss + fill.commission), order

    book = OptionBook(20_000.0)
    fill, _ = trade(book, OptionOrder((leg(95, "P", Side.SELL),), 2), per_contract=0.0)
    assert book.requirement() == pytest.approx(95 * 100 * 2)
    assert book.buying_power() == pytest.approx(20_000 + 2 * 190 - 19_000)


def test_a_long_straddle_costs_its_debit_and_pays_its_intrinsic_value_at_expiry():
    book = OptionBook(10_000.0)
    straddle = OptionOrder((leg(100, "C", Side.BUY), leg(100, "P", Side.BUY)), 2)
    fill, _ = trade(book, straddle)
    assert fill.net_price == pytest.approx(4.20 + 4.10)
    assert 10_000 - book.buying_power() == pytest.approx(8.30 * 100 * 2 + fill.commission)

    book.settle_expiries(EXPIRY_TS, {"AAA": 112.0})

    # the call settles at 12.00, the put expires: 2 x (12.00 - 8.30) x 100 less 4 contracts x 0.65
    assert book.cash == pytest.approx(10_000 + 2 * (12.0 - 8.30) * 100 - 2.60)
    assert book.option_positions == {}


def test_a_short_strangle_sells_a_naked_call_and_is_refused_unless_shares_cover_it():
    strangle = OptionOrder((leg(95, "P", Side.SELL), leg(105, "C", Side.SELL)), 1)
    book = OptionBook(50_000.0)
    assert "naked" in book.refusal(strangle, fill_option_order(strangle, chain(), OptionCommission()))

    book.apply_fill(Fill("s", "AAA", Side.BUY, 100.0, 100.0, 0.0, OPEN, 0))
    fill, _ = trade(book, strangle)
    # the put is secured by cash (its strike), the call by the shares held, which need nothing more
    assert book.requirement() == pytest.approx(95 * 100)
    assert fill.net_price == pytest.approx(-(1.90 + 2.10))


def test_an_order_the_buying_power_cannot_carry_is_refused_but_a_close_always_passes():
    book = OptionBook(1_000.0)
    big = iron_condor(qty=4)  # max loss (5 - 2.05) x 100 x 4 = 1,180 + commission
    fill = fill_option_order(big, chain(), OptionCommission())

    assert book.refusal(big, fill) == (
        "buying power 1,000.00 cannot carry this order: it needs 1,190.40 (AAA, 4 unit(s) at a net -2.0500)"
    )
    trade(book, iron_condor(qty=3))
    book.apply_fill(Fill("x", "AAA", Side.BUY, 10.0, 100.0, 0.0, OPEN, 0))  # spends the rest, and more
    assert book.buying_power() == 0.0
    close = OptionOrder(
        tuple(
            OptionLeg(leg.contract, Side.SELL if leg.side is Side.BUY else Side.BUY)
            for leg in iron_condor().legs
        ),
        3,
    )
    assert book.refusal(close, fill_option_order(close, chain(), OptionCommission())) is None


def test_a_reduce_only_order_that_would_open_is_refused():
    book = OptionBook(10_000.0)
    order = put_spread(reduce_only=True)
    fill = fill_option_order(order, chain(), OptionCommission())

    assert book.refusal(order, fill) == "reduce-only order would open AAA240419P00095000 (holds 0, order -1)"


def test_positions_are_marked_by_quote_or_model_and_equity_adds_them_up():
    quote_book, model_book = OptionBook(10_000.0), OptionBook(10_000.0, marks="model")
    for book in (quote_book, model_book):
        trade(book, iron_condor(qty=2))
        book.apply_fill(Fill("s", "AAA", Side.BUY, 10.0, 100.0, 1.0, OPEN, 0))
    later = chain({**QUOTES, (95, "P"): (1.00, 1.10)}, spot=103.0, ts=LATER)

    for book in (quote_book, model_book):
        book.mark_chain(later)
        value = sum(
            held.qty * book.option_marks[symbol] * 100 for symbol, held in book.option_positions.items()
        )
        assert book.equity == pytest.approx(book.cash + 10 * 103.0 + value)
        assert book.price("AAA") == 103.0

    assert quote_book.option_marks[contract(95, "P").symbol] == pytest.approx(1.05)
    assert model_book.option_marks == {
        symbol: pytest.approx(later.mark(symbol, by="model")) for symbol in model_book.option_positions
    }
    assert model_book.option_marks != quote_book.option_marks


def test_the_exposure_is_the_greeks_of_the_contracts_held_at_the_latest_chain():
    book = OptionBook(10_000.0)
    order = iron_condor(qty=2)
    _, _ = trade(book, order)
    at = chain()

    expected = tuple(at.exposure(order.legs, 2))
    assert tuple(book.option_exposure()) == pytest.approx(expected)
    assert book.option_exposure().delta != 0.0
    book.settle_expiries(EXPIRY_TS, {"AAA": 100.0})
    assert tuple(book.option_trades[0].entry_exposure) == pytest.approx(expected)


def test_bad_settings_are_refused():
    with pytest.raises(InvalidInput, match="'cash' or 'assign'"):
        OptionBook(1.0, settlement="physical")
    with pytest.raises(InvalidInput, match="'quote' or 'model'"):
        OptionBook(1.0, marks="last")
    book = OptionBook(10_000.0)
    trade(book, put_spread())
    with pytest.raises(InvalidInput, match="the price of AAA is needed"):
        book.settle_expiries(EXPIRY_TS, {})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["condor", "spread", "close_spread", "shares"]), st.integers(1, 3)),
        max_size=6,
    ),
    st.floats(80, 120),
)
def test_equity_adds_up_positions_sum_their_fills_and_the_trades_hold_every_dollar(steps, spot):
    book = OptionBook(1_000_000.0)
    opening = chain()  # one snapshot: its greeks are solved once
    signed: dict[str, int] = {}
    share_cost = 0.0
    for kind, qty in steps:
        if kind == "shares":
            book.apply_fill(Fill("s", "AAA", Side.BUY, 100.0 * qty, 100.0, 1.0, OPEN, 0))
            share_cost += 100.0 * qty * 100.0 + 1.0
            continue
        order = {
            "condor": iron_condor(qty),
            "spread": put_spread(qty),
            "close_spread": OptionOrder((leg(95, "P", Side.BUY), leg(90, "P", Side.SELL)), qty),
        }[kind]
        fill = fill_option_order(order, opening, OptionCommission())
        if book.refusal(order, fill) is None:
            book.apply_option_fill(order, fill, opening)
            for one in order.legs:
                signed[one.symbol] = signed.get(one.symbol, 0) + one.signed_ratio * qty
    book.mark_chain(chain(spot=spot))

    assert {s: book.option_position(s) for s in signed} == signed
    options = sum(h.qty * book.option_marks[s] * 100 for s, h in book.option_positions.items())
    assert book.equity == pytest.approx(book.cash + book.position("AAA") * spot + options)
    book.settle_expiries(EXPIRY_TS, {"AAA": spot})
    assert book.option_positions == {}
    assert book.cash == pytest.approx(1_000_000.0 - share_cost + sum(t.pnl for t in book.option_trades))


def test_a_roll_closes_one_spread_and_opens_the_next_in_one_fill():
    book = OptionBook(10_000.0)
    trade(book, put_spread(qty=2), per_contract=0.5)
    roll = OptionOrder(
        (leg(95, "P", Side.BUY, 2), leg(90, "P", Side.SELL), leg(100, "P", Side.SELL)),
        2,
        reason="roll up",
    )

    fill, trades = trade(book, roll, per_contract=0.5)

    # the 95 puts: 2 bought back of the old spread, 2 more bought for the new 100/95 spread
    assert [(t.units, t.exit_reason, round(t.exit_price, 2)) for t in trades] == [(2, "roll up", -1.2)]
    assert book.option_position(contract(95, "P").symbol) == 2
    assert book.option_position(contract(100, "P").symbol) == -2
    assert book.option_position(contract(90, "P").symbol) == 0
    book.settle_expiries(EXPIRY_TS, {"AAA": 101.0})
    new = book.option_trades[1]
    assert [(one.symbol, one.contracts, one.entry_price) for one in new.legs] == [
        ("AAA240419P00095000", 2, 2.00),
        ("AAA240419P00100000", -2, 3.90),
    ]
    assert (new.units, round(new.entry_price, 2), new.exit_reason) == (2, -1.90, "expired")
    # every contract's commission is in one trade or the other: 4 + 8 contracts x 0.50
    assert sum(t.commission for t in book.option_trades) == pytest.approx(6.0)
    assert fill.commission == pytest.approx(4.0)
