"""The policy risk manager on option orders: an opening order measured by its max loss at its net
price (risk per trade, buying power, capital deployed), covered calls and cash-secured puts, the
book's net delta and vega, and the trading states, rate limits and protections as for shares."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from execution.core.portfolio import Portfolio
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from risk.core.manager import APPROVED, Decision, PolicyRiskManager, Reason
from risk.core.policy import RiskPolicy
from risk.tests.books import OptionAccount
from strategies.core.options import OptionExposure, OptionLeg, OptionOrder
from strategies.core.types import Order, OrderType, Side

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
EXPIRY = date(2024, 2, 16)
FLAT = OptionExposure()  # the greeks of a unit that moves nothing
CONDOR = (
    "trade 4 units of buy 1 XYZ240216P00090000 (0 held) / sell 1 XYZ240216P00095000 (0 held) / "
    "sell 1 XYZ240216C00105000 (0 held) / buy 1 XYZ240216C00110000 (0 held)"
)
CONDOR_HELD = {
    "XYZ240216P00090000": 4,
    "XYZ240216P00095000": -4,
    "XYZ240216C00105000": -4,
    "XYZ240216C00110000": 4,
}


def manager(**policy) -> PolicyRiskManager:
    """A manager at level 10 (2% risk, 80% deployed, net delta 50% and net vega 0.5% of equity) unless
    told otherwise, after its first step at 100,000 of equity."""
    risk = PolicyRiskManager(RiskPolicy(**{"level": 10, **policy}), strategy="condors")
    risk.on_step(T0, 100_000.0, new_session=True)
    return risk


def leg(side: str, strike: float, right: str, ratio: int = 1) -> OptionLeg:
    return OptionLeg(OptionContract("XYZ", EXPIRY, strike, right), Side(side), ratio)


def option(*legs: OptionLeg, qty: int = 1, limit: float | None = None, **fields) -> OptionOrder:
    """A limit order at ``limit`` (net per share, debit positive), else a market order."""
    if limit is not None:
        fields |= {"order_type": OrderType.LIMIT, "limit_price": limit}
    return OptionOrder(legs, qty=qty, **{"exposure": FLAT, **fields})


def condor(qty: int = 4, credit: float | None = 1.25, **fields) -> OptionOrder:
    """An iron condor on XYZ (at 100): puts 90/95 and calls 105/110, 5 wide, for a credit."""
    legs = (leg("buy", 90, "put"), leg("sell", 95, "put"), leg("sell", 105, "call"), leg("buy", 110, "call"))
    return option(*legs, qty=qty, limit=None if credit is None else -credit, **fields)


def condor_close(qty: int = 4, **fields) -> OptionOrder:
    """The condor bought back, a market order with no price or greeks of its own."""
    legs = (leg("sell", 90, "put"), leg("buy", 95, "put"), leg("buy", 105, "call"), leg("sell", 110, "call"))
    return option(*legs, qty=qty, **{"reduce_only": True, "exposure": None, **fields})


def shares(qty: float) -> dict:
    return {"XYZ": SimpleNamespace(qty=qty)}


def refused(*reasons: tuple[str, str]) -> Decision:
    return Decision(approved=False, reasons=[Reason(code, message) for code, message in reasons])


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


# --- risk per trade: the max loss at the net price -------------------------------------------------


def test_an_iron_condors_max_loss_is_its_risk_per_trade_to_the_cent():
    # given 1.5% of 100,000 per trade: 1,500.00
    risk, book = manager(max_risk_per_trade_pct=1.5), OptionAccount()

    # when 4 condors 5 wide are sold for 1.25 (4 x (5 - 1.25) x 100 = 1,500.00), then for a cent less
    at_the_limit = risk.check_order(condor(credit=1.25), book)
    a_cent_less = risk.check_order(condor(credit=1.24), book)

    # then the first is at the limit and passes, the second risks 4.00 more and is refused
    assert at_the_limit is APPROVED
    assert a_cent_less == refused(
        (
            "risk_per_trade",
            "The order risks 1,504.00 (its max loss at expiry at the net price -1.24), above 1.5% of equity "
            "100,000.00 (1,500.00).",
        )
    )


def test_a_market_order_is_measured_at_the_price_its_strategy_expected():
    risk, book = manager(max_risk_per_trade_pct=1.5), OptionAccount()

    expected = risk.check_order(condor(credit=None, expected_price=-1.25), book)
    worse = risk.check_order(condor(credit=None, expected_price=-1.24), book)

    assert expected is APPROVED
    assert codes(worse) == ["risk_per_trade"]


def test_a_market_order_that_opens_without_an_expected_price_is_refused():
    risk, book = manager(), OptionAccount()

    decision = risk.check_order(condor(credit=None), book)

    assert decision == refused(
        (
            "option_price_missing",
            "A market option order that opens needs the net price its strategy expects (expected_price) to "
            f"measure its risk, and this one has none: it would {CONDOR}.",
        )
    )


def test_closing_legs_held_needs_no_price_nor_greeks():
    risk, book = manager(), OptionAccount(contracts=dict(CONDOR_HELD))

    assert risk.check_order(condor_close(), book) is APPROVED
    assert risk.check_order(condor_close(qty=3, reduce_only=False), book) is APPROVED


def test_a_debit_spread_risks_what_it_costs():
    # a bull call spread 100/110 for 4.00: at most 400.00 a unit; 5 of them are 2,000.00, 2% of equity
    risk, book = manager(), OptionAccount()
    spread = (leg("buy", 100, "call"), leg("sell", 110, "call"))

    assert risk.check_order(option(*spread, qty=5, limit=4.0), book) is APPROVED
    assert codes(risk.check_order(option(*spread, qty=6, limit=4.0), book)) == ["risk_per_trade"]


# --- calls sold: covered or refused ----------------------------------------------------------------


def test_a_naked_call_is_refused_and_a_covered_call_passes():
    risk = manager()
    calls = option(leg("sell", 105, "call"), qty=2, limit=-1.5, exposure=OptionExposure(-3_000.0, -20.0, 5.0))

    naked = risk.check_order(calls, OptionAccount())
    short_a_share = risk.check_order(calls, OptionAccount(positions=shares(199)))
    covered = risk.check_order(calls, OptionAccount(positions=shares(200)))

    assert naked == refused(
        (
            "naked_call",
            "The order sells 2 calls beyond those it buys, a loss without limit unless 200 shares of XYZ "
            "cover them, and 0 are held: it would trade 2 units of sell 1 XYZ240216C00105000 (0 held).",
        )
    )
    assert codes(short_a_share) == ["naked_call"]
    assert "and 199 are held" in short_a_share.reasons[0].message
    assert covered is APPROVED


def test_the_calls_an_order_buys_cover_as_many_it_sells():
    # sell 2 calls at 105, buy 1 at 110: one call a unit is left for shares to cover
    risk = manager()
    ratio = option(leg("sell", 105, "call", ratio=2), leg("buy", 110, "call"), qty=3, limit=-1.0)

    uncovered = risk.check_order(ratio, OptionAccount(positions=shares(299)))
    covered = risk.check_order(ratio, OptionAccount(positions=shares(300)))

    assert uncovered.reasons[0].message.startswith(
        "The order sells 3 calls beyond those it buys, a loss without limit unless 300 shares of XYZ "
        "cover them, and 299 are held"
    )
    assert covered is APPROVED


def test_a_covered_order_risks_what_is_left_once_the_shares_cover_its_calls():
    # a collar on shares held: buy the 95 put, sell the 105 call, for a net debit of 0.50; what is left
    # once the shares cover the call is the put, which loses at most the 0.50 paid: 50.00 a unit
    risk = manager()
    collar = (leg("buy", 95, "put"), leg("sell", 105, "call"))
    book = OptionAccount(positions=shares(5_000))

    forty = risk.check_order(option(*collar, qty=40, limit=0.5), book)
    fifty = risk.check_order(option(*collar, qty=50, limit=0.5), book)

    assert forty is APPROVED  # 2,000.00: 2% of equity
    assert fifty == refused(
        (
            "risk_per_trade",
            "The order risks 2,500.00 (its max loss at expiry at the net price 0.5 with the shares held "
            "covering the calls it sells), above 2% of equity 100,000.00 (2,000.00).",
        )
    )


# --- puts sold: secured by cash --------------------------------------------------------------------


def test_a_cash_secured_put_needs_the_cash_for_its_max_loss():
    # a put at 95 sold for 1.00 loses at most (95 - 1) x 100 = 9,400.00; equity 1,000,000 lets it risk it
    risk = manager()
    put = option(leg("sell", 95, "put"), limit=-1.0, exposure=OptionExposure(3_000.0, -15.0, 4.0))

    def account(cash: float) -> OptionAccount:
        return OptionAccount(power=1_000_000.0, cash=cash, equity=1_000_000.0)

    assert risk.check_order(put, account(9_400.0)) is APPROVED
    assert risk.check_order(put, account(9_399.99)) == refused(
        (
            "put_not_secured",
            "The order sells 1 put beyond those it buys (a cash-secured put): the cash must cover its max "
            "loss at expiry, 9,400.00 (for a lone put: the strike x multiplier x quantity less the premium), "
            "and it is 9,399.99.",
        )
    )


def test_a_put_sold_in_a_spread_needs_no_cash_of_its_own():
    # a bull put spread 90/95 for 1.00: defined risk, 400.00 a unit (shares sold short do not matter)
    risk, book = manager(), OptionAccount(cash=0.0, positions=shares(-100))
    spread = option(leg("sell", 95, "put"), leg("buy", 90, "put"), qty=2, limit=-1.0)

    assert risk.check_order(spread, book) is APPROVED


def test_a_covered_strangle_still_secures_its_put_with_cash():
    # the shares cover the call; the put is left, secured by cash: (95 - 3) x 100 = 9,200.00
    risk = manager()
    strangle = option(leg("sell", 95, "put"), leg("sell", 105, "call"), limit=-3.0)
    book = OptionAccount(power=1_000_000.0, cash=9_000.0, equity=1_000_000.0, positions=shares(100))

    decision = risk.check_order(strangle, book)

    assert codes(decision) == ["put_not_secured"]
    assert "its max loss at expiry, 9,200.00" in decision.reasons[0].message


# --- buying power and capital deployed: a spread takes its max loss --------------------------------


def test_a_spread_takes_its_max_loss_of_buying_power():
    risk = manager()

    enough = risk.check_order(condor(), OptionAccount(power=1_500.0))
    short = risk.check_order(condor(), OptionAccount(power=1_499.99))

    assert enough is APPROVED
    assert short == refused(
        (
            "buying_power",
            f"The order would {CONDOR}, taking 1,500.00 of buying power (its max loss at expiry): more than "
            "the buying power 1,499.99.",
        )
    )


def test_a_spreads_max_loss_counts_as_capital_deployed():
    # 80% of 100,000 may be deployed: 78,500.00 already is, and the condors take 1,500.00 more
    risk = manager()

    at_the_limit = risk.check_order(condor(), OptionAccount(gross_exposure=78_500.0))
    beyond = risk.check_order(condor(), OptionAccount(gross_exposure=78_500.01))

    assert at_the_limit is APPROVED
    assert beyond == refused(
        (
            "capital_deployed",
            "The capital deployed after the order would be 80,000.01 (the gross exposure 78,500.01 and its "
            "max loss 1,500.00), above 80% of equity 100,000.00 (80,000.00).",
        )
    )


# --- the book's greeks -----------------------------------------------------------------------------


def calls(qty: int, delta: float, vega: float = 0.0) -> OptionOrder:
    """Long calls, each unit with this delta and vega in money."""
    return option(leg("buy", 105, "call"), qty=qty, limit=0.5, exposure=OptionExposure(delta, vega, -1.0))


def test_net_delta_beyond_its_limit_is_refused_when_it_grows():
    # given a net delta limit of 10% of 100,000: 10,000.00 either way, and 8,000.00 of delta held
    risk, book = manager(max_net_delta_pct=10), OptionAccount(greeks=OptionExposure(8_000.0, 0.0, 0.0))

    to_the_limit = risk.check_order(calls(2, 1_000.0), book)
    beyond = risk.check_order(calls(3, 1_000.0), book)
    flipped_beyond = risk.check_order(calls(1, -20_000.0), book)

    assert to_the_limit is APPROVED
    assert beyond == refused(
        (
            "net_delta",
            "The book's net delta after the order would be 11,000.00 (from 8,000.00), beyond 10% of equity "
            "100,000.00 (10,000.00) either way.",
        )
    )
    assert flipped_beyond.reasons[0].message.startswith(
        "The book's net delta after the order would be -12,000.00 (from 8,000.00)"
    )


def test_an_order_that_reduces_net_delta_passes_even_beyond_the_limit():
    risk, book = manager(max_net_delta_pct=10), OptionAccount(greeks=OptionExposure(15_000.0, 0.0, 0.0))

    assert risk.check_order(calls(2, -1_000.0), book) is APPROVED  # 15,000 -> 13,000


def test_shares_held_count_in_net_delta():
    # 95 shares of XYZ at 100 are 9,500.00 of delta; a covered call brings 20,000.00 of shares down
    risk = manager(max_net_delta_pct=10)

    more = risk.check_order(calls(1, 1_000.0), OptionAccount(positions=shares(95)))
    covered = option(leg("sell", 105, "call"), qty=2, limit=-1.5, exposure=OptionExposure(-3_000.0, 0, 0))

    assert more.reasons[0].message.startswith(
        "The book's net delta after the order would be 10,500.00 (from 9,500.00)"
    )
    assert risk.check_order(covered, OptionAccount(positions=shares(200))) is APPROVED  # 20,000 -> 14,000


def test_net_vega_beyond_its_limit_is_refused_when_it_grows():
    # given a net vega limit of 0.1% of 100,000: 100.00 per volatility point, and -80.00 held
    risk, book = manager(max_net_vega_pct=0.1), OptionAccount(greeks=OptionExposure(0.0, -80.0, 0.0))

    shorter = risk.check_order(condor(exposure=OptionExposure(0.0, -10.0, 2.0)), book)
    straddle = option(
        leg("buy", 100, "call"), leg("buy", 100, "put"), limit=6.0, exposure=OptionExposure(0.0, 50.0, -3.0)
    )
    longer = risk.check_order(straddle, book)

    assert shorter == refused(
        (
            "net_vega",
            "The book's net vega after the order would be -120.00 per volatility point (from -80.00), beyond "
            "0.1% of equity 100,000.00 (100.00) either way.",
        )
    )
    assert longer is APPROVED  # -80 -> -30


def test_an_opening_order_without_its_greeks_is_refused():
    risk, book = manager(), OptionAccount()

    decision = risk.check_order(condor(exposure=None), book)

    assert decision == refused(
        (
            "option_exposure_missing",
            "An option order that opens needs the greeks its strategy saw (exposure) to check the book's net "
            f"delta and vega, and this one has none: it would {CONDOR}.",
        )
    )


# --- trading states, reduce-only, kill switch ------------------------------------------------------


def test_while_reducing_only_orders_that_close_legs_held_pass():
    risk, book = manager(), OptionAccount(contracts=dict(CONDOR_HELD))
    risk.set_external_state("active", "reducing")

    closing = risk.check_order(condor_close(), book)
    opening = risk.check_order(condor(), OptionAccount())

    assert closing is APPROVED
    assert opening == refused(
        (
            "trading_reducing",
            "Trading is reducing (global active, strategy reducing): only orders that shrink a position "
            f"pass, and this one would {CONDOR}.",
        )
    )


def test_a_reduce_only_order_that_opens_or_closes_more_than_held_is_refused():
    risk = manager()
    held = OptionAccount(contracts=dict(CONDOR_HELD))
    # a roll: buy back the 105 calls held, sell the 110 calls not held short
    roll = option(leg("buy", 105, "call"), leg("sell", 115, "call"), qty=4, limit=0.3, reduce_only=True)

    opening = risk.check_order(condor(reduce_only=True), OptionAccount())
    too_many = risk.check_order(condor_close(qty=5, limit=1.0, exposure=FLAT), held)
    rolled = risk.check_order(roll, held)

    assert opening == refused(
        (
            "reduce_only_grows",
            f"A reduce-only order would {CONDOR}: it would open or grow a position.",
        )
    )
    assert codes(too_many) == ["reduce_only_grows"]
    assert rolled.reasons[0].message == (
        "A reduce-only order would trade 4 units of buy 1 XYZ240216C00105000 (-4 held) / sell 1 "
        "XYZ240216C00115000 (0 held): it would open or grow a position."
    )


def test_nothing_passes_while_halted_not_even_a_close():
    risk, book = manager(), OptionAccount(contracts=dict(CONDOR_HELD))
    risk.set_external_state("halted", "active")

    assert risk.check_order(condor_close(), book) == refused(
        ("trading_halted", "Trading is halted (global halted, strategy active): no order passes.")
    )


def test_the_drawdown_kill_switch_refuses_option_orders_and_the_daily_loss_only_openings():
    risk, book = manager(), OptionAccount(contracts=dict(CONDOR_HELD))
    risk.on_step(T0 + timedelta(minutes=1), 97_000.0, new_session=False)  # 3.0% down: not beyond 3%
    risk.on_step(T0 + timedelta(minutes=2), 96_900.0, new_session=False)  # 3.1% down: reducing

    assert risk.check_order(condor_close(), book) is APPROVED
    assert codes(risk.check_order(condor(), OptionAccount(equity=96_900.0))) == ["daily_loss_limit"]

    risk.on_step(T0 + timedelta(minutes=3), 87_000.0, new_session=False)  # 13% down: halted

    assert codes(risk.check_order(condor_close(), book)) == ["max_drawdown"]


# --- rate limits and protections -------------------------------------------------------------------


def test_option_orders_count_in_the_rate_limits_with_share_orders():
    risk = manager(max_orders_per_minute=2)
    portfolio = Portfolio(100_000.0)
    portfolio.mark("AAA", 100.0)

    assert risk.check_order(Order("AAA", Side.BUY, qty=1), portfolio) is APPROVED
    assert risk.check_order(condor(), OptionAccount()) is APPROVED
    assert risk.check_order(condor(), OptionAccount()) == refused(
        (
            "rate_limit_strategy",
            "2 orders of the strategy in the minute up to 2024-01-02 14:30:00+00:00: at the limit of 2 per "
            "minute.",
        )
    )


def test_a_loss_on_the_underlying_cools_down_new_option_positions_on_it():
    risk = manager(cooldown_bars=3)
    risk.on_trade_closed("XYZ", -50.0)

    assert risk.check_order(condor(), OptionAccount()) == refused(
        (
            "cooldown",
            "XYZ closed a round trip at a loss of 50.00, 0 bars ago: no new entry on it within 3 bars of a "
            "loss.",
        )
    )
    assert risk.check_order(condor_close(), OptionAccount(contracts=dict(CONDOR_HELD))) is APPROVED


def test_a_loss_on_a_contract_cools_down_orders_that_trade_it():
    risk = manager(cooldown_bars=3)
    risk.on_trade_closed("XYZ240216C00105000", -50.0)

    assert codes(risk.check_order(condor(), OptionAccount())) == ["cooldown"]


# --- every reason at once, and the wrong portfolio -------------------------------------------------


def test_the_decision_lists_every_failing_option_check_in_order():
    # a reduce-only strangle, covered, on little cash, buying power and room, while halted, with
    # greeks beyond both limits
    risk = manager(max_orders_per_minute=1, max_net_delta_pct=10, max_net_vega_pct=0.1)
    assert risk.check_order(condor(), OptionAccount()) is APPROVED
    strangle = option(
        leg("sell", 95, "put"),
        leg("sell", 105, "call"),
        limit=-3.0,
        reduce_only=True,
        exposure=OptionExposure(-30_000.0, -200.0, 10.0),
    )
    book = OptionAccount(power=0.0, cash=0.0, gross_exposure=80_000.0, positions=shares(100))
    risk.set_external_state("halted", "active")

    decision = risk.check_order(strangle, book)

    assert codes(decision) == [
        "buying_power",
        "rate_limit_strategy",
        "reduce_only_grows",
        "trading_halted",
        "put_not_secured",
        "risk_per_trade",
        "capital_deployed",
        "net_delta",
        "net_vega",
    ]


def test_an_option_order_needs_a_portfolio_that_holds_options():
    with pytest.raises(
        InvalidInput, match="an option order is checked against a portfolio that holds options"
    ):
        manager().check_order(condor(), Portfolio(100_000.0))
