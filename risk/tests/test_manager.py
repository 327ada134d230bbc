import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from execution.core.portfolio import Portfolio
from marketdata.core.errors import InvalidInput
from risk.core.manager import (
    APPROVED,
    Decision,
    OrderLog,
    PermissiveRiskManager,
    PolicyRiskManager,
    Reason,
    RefusalCode,
)
from risk.core.policy import RiskPolicy, StoplossGuard
from risk.core.state import TradingState, TradingStateChanged
from risk.tests.books import Account
from strategies.core.types import Fill, Order, OrderType, Side

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def book(cash: float = 100_000.0, **held: float) -> Portfolio:
    """A portfolio holding `held` (signed quantities bought or sold at 100), every symbol marked at 100."""
    portfolio = Portfolio(cash)
    for symbol, qty in held.items():
        side = Side.BUY if qty > 0 else Side.SELL
        portfolio.apply_fill(Fill("seed", symbol, side, abs(qty), 100.0, 0.0, T0, 0))
    for symbol in ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", *held):
        portfolio.mark(symbol, 100.0)
    return portfolio


def manager(**policy) -> PolicyRiskManager:
    """A manager at level 10 (2% risk, 80% deployed, 15 positions, 3% daily, 12% drawdown) unless told
    otherwise, after its first step at 100,000 of equity."""
    risk = PolicyRiskManager(RiskPolicy(**{"level": 10, **policy}), strategy="momentum")
    risk.on_step(T0, 100_000.0, new_session=True)
    return risk


def buy(symbol: str = "BBB", qty: float = 10, **fields) -> Order:
    return Order(symbol, Side.BUY, qty=qty, **fields)


def sell(symbol: str = "AAA", qty: float = 100, **fields) -> Order:
    return Order(symbol, Side.SELL, qty=qty, **fields)


def refused(*reasons: tuple[str, str]) -> Decision:
    return Decision(approved=False, reasons=[Reason(code, message) for code, message in reasons])


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


# --- the interface --------------------------------------------------------------------------------


def test_the_policy_manager_never_claims_to_approve_everything():
    assert PolicyRiskManager.approves_everything is False
    assert PermissiveRiskManager.approves_everything is True
    assert PermissiveRiskManager().check_order(buy(), book()) is APPROVED


def test_an_order_before_any_step_is_refused():
    risk = PolicyRiskManager(RiskPolicy(level=10))

    assert risk.check_order(buy(stop_loss=99.0), book()) == refused(
        ("no_step", "The risk manager has seen no step yet: call on_step first.")
    )


def test_a_small_order_with_a_stop_passes_the_default_policy():
    risk = PolicyRiskManager(RiskPolicy.default())
    risk.on_step(T0, 100_000.0, new_session=True)

    assert risk.check_order(buy("BBB", 100, stop_loss=90.0), book()) is APPROVED  # risks 1,000 of 1,333.33


# --- price ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mark", [0.0, -1.0, math.nan, math.inf])
def test_an_order_without_a_positive_finite_price_is_refused(mark):
    portfolio = book()
    portfolio.mark("ZZZ", mark)

    assert manager().check_order(buy("ZZZ", 10), portfolio) == refused(
        (
            "price_invalid",
            f"The reference price of ZZZ is {mark}: an order needs a positive, finite price to be checked.",
        )
    )


def test_a_symbol_never_marked_has_no_price():
    assert codes(manager().check_order(buy("ZZZ", 10), book())) == ["price_invalid"]


def test_the_smallest_positive_price_passes():
    portfolio = book()
    portfolio.mark("ZZZ", 0.01)

    assert manager().check_order(buy("ZZZ", 10), portfolio) is APPROVED


def test_a_limit_order_is_priced_at_its_limit_price():
    # given a symbol with no mark yet, bought with a limit at 50 and a stop at 40
    order = Order("ZZZ", Side.BUY, qty=100, order_type=OrderType.LIMIT, limit_price=50.0, stop_loss=40.0)

    # then it is checked at 50: it risks 100 x 10 = 1,000, inside 1% of 100,000
    assert manager(max_risk_per_trade_pct=1).check_order(order, book()) is APPROVED
    assert codes(manager(max_risk_per_trade_pct=0.5).check_order(order, book())) == ["risk_per_trade"]


# --- quantity -------------------------------------------------------------------------------------


def test_the_minimum_quantity_is_allowed_and_one_less_is_refused():
    risk = manager(min_qty=10)

    assert risk.check_order(buy(qty=10), book()) is APPROVED
    assert risk.check_order(buy(qty=9), book()) == refused(
        ("qty_below_min", "The order would buy 9 BBB: 9 is below the minimum quantity 10.")
    )


def test_the_maximum_quantity_is_allowed_and_one_more_is_refused():
    risk = manager(max_qty=500)

    assert risk.check_order(buy(qty=500, stop_loss=99.0), book()) is APPROVED
    assert risk.check_order(buy(qty=501, stop_loss=99.0), book()) == refused(
        ("qty_above_max", "The order would buy 501 BBB: 501 is above the maximum quantity 500.")
    )


def test_an_order_sized_in_money_is_estimated_in_whole_units_at_the_mark():
    risk = manager(min_qty=10)

    # 1,000 at 100 is 10 shares; 999.99 is 9 whole shares
    assert risk.check_order(Order("BBB", Side.BUY, notional=1_000.0), book()) is APPROVED
    assert risk.check_order(Order("BBB", Side.BUY, notional=999.99), book()) == refused(
        ("qty_below_min", "The order would buy about 9 BBB: 9 is below the minimum quantity 10.")
    )


def test_an_equity_fraction_is_estimated_from_the_buying_power():
    # 1% of 100,000 of buying power at 100 is 10 shares
    risk = manager(max_qty=9)

    assert codes(risk.check_order(Order("BBB", Side.BUY, equity_fraction=0.01), book())) == ["qty_above_max"]


@pytest.mark.parametrize(
    ("decimals", "qty", "approved"),
    [(2, 1.25, True), (2, 1.255, False), (1, 0.1 + 0.2, True), (0, 10, True), (0, 10.5, False)],
)
def test_a_quantity_off_the_precision_is_refused_never_rounded(decimals, qty, approved):
    decision = manager(qty_decimals=decimals).check_order(buy(qty=qty), book())

    assert decision.approved is approved
    assert codes(decision) == ([] if approved else ["qty_precision"])


def test_the_precision_message_gives_the_step():
    assert manager(qty_decimals=2).check_order(buy(qty=1.255), book()) == refused(
        ("qty_precision", "The quantity 1.255 is not a multiple of 0.01 (2 decimals).")
    )


# --- notional and buying power --------------------------------------------------------------------


def test_the_maximum_notional_is_allowed_and_a_share_more_is_refused():
    risk = manager(max_order_notional=10_000)

    assert risk.check_order(buy(qty=100, stop_loss=99.0), book()) is APPROVED
    assert risk.check_order(buy(qty=101, stop_loss=99.0), book()) == refused(
        ("notional_above_max", "The order's notional 10,100.00 is above the maximum per order, 10,000.00.")
    )
    assert codes(risk.check_order(Order("BBB", Side.BUY, notional=10_000.01), book())) == [
        "notional_above_max",
        "risk_per_trade",  # 100 shares without a stop: 10,000 at risk
    ]


def test_an_order_may_use_the_whole_buying_power_and_no_more():
    risk = manager()

    assert risk.check_order(buy(qty=50, stop_loss=99.0), Account(power=5_000.0)) is APPROVED
    assert risk.check_order(buy(qty=51, stop_loss=99.0), Account(power=5_000.0)) == refused(
        (
            "buying_power",
            "The order would buy 51 BBB, adding 5,100.00 of exposure: more than the buying power 5,000.00.",
        )
    )


def test_a_close_needs_no_buying_power():
    account = Account(power=0.0, gross_exposure=10_000.0, positions={"AAA": SimpleNamespace(qty=100.0)})

    assert manager().check_order(sell("AAA", 100), account) is APPROVED


# --- order rates ----------------------------------------------------------------------------------


def test_the_strategy_rate_limit_slides_with_the_managers_clock():
    # given 2 orders a minute, both used at T0
    risk = manager(max_orders_per_minute=2)
    assert risk.check_order(buy(), book()) is APPROVED
    assert risk.check_order(buy(), book()) is APPROVED

    # then a third is refused until a minute has passed since them, on the manager's clock
    assert risk.check_order(buy(), book()) == refused(
        (
            "rate_limit_strategy",
            "2 orders of the strategy in the minute up to 2024-01-02 14:30:00+00:00: at the limit of 2 per "
            "minute.",
        )
    )
    risk.on_step(T0 + timedelta(seconds=59), 100_000.0, new_session=False)
    assert codes(risk.check_order(buy(), book())) == ["rate_limit_strategy"]
    risk.on_step(T0 + timedelta(seconds=60), 100_000.0, new_session=False)
    assert risk.check_order(buy(), book()) is APPROVED


def test_refused_orders_do_not_count_toward_the_rate():
    risk = manager(max_orders_per_minute=1)
    assert codes(risk.check_order(buy("ZZZ"), book())) == ["price_invalid"]

    assert risk.check_order(buy(), book()) is APPROVED


def test_the_global_rate_limit_counts_every_strategy_sharing_the_log():
    # given two strategies' managers sharing one global log of 3 orders a minute
    shared = OrderLog()
    policy = RiskPolicy(level=10, max_orders_per_minute_global=3)
    first = PolicyRiskManager(policy, strategy="a", global_orders=shared)
    second = PolicyRiskManager(policy, strategy="b", global_orders=shared)
    for risk in (first, second):
        risk.on_step(T0, 100_000.0, new_session=True)

    # when the first uses two and the second one
    results = [first.check_order(buy(), book()), first.check_order(buy(), book())]
    results.append(second.check_order(buy(), book()))

    # then the fourth, from either, is refused
    assert results == [APPROVED, APPROVED, APPROVED]
    assert second.check_order(buy(), book()) == refused(
        (
            "rate_limit_global",
            "3 orders of all strategies in the minute up to 2024-01-02 14:30:00+00:00: at the limit of 3 per "
            "minute.",
        )
    )
    second.on_step(T0 + timedelta(minutes=1), 100_000.0, new_session=False)
    assert second.check_order(buy(), book()) is APPROVED


# --- reduce-only and trading states ---------------------------------------------------------------


def test_a_reduce_only_order_may_close_but_not_flip_nor_grow():
    risk, portfolio = manager(), book(AAA=100)

    assert risk.check_order(sell("AAA", 100, reduce_only=True), portfolio) is APPROVED
    assert risk.check_order(sell("AAA", 101, reduce_only=True), portfolio) == refused(
        (
            "reduce_only_grows",
            "A reduce-only order would sell 101 AAA while 100 are held: it would open or grow a position.",
        )
    )
    assert codes(risk.check_order(buy("AAA", 1, reduce_only=True), portfolio)) == ["reduce_only_grows"]
    assert codes(risk.check_order(sell("BBB", 1, reduce_only=True), portfolio)) == ["reduce_only_grows"]


def test_reducing_lets_a_close_through_and_refuses_an_opening_order():
    # given the strategy paused to REDUCING from outside
    risk, portfolio = manager(), book(AAA=100)
    risk.set_external_state(TradingState.ACTIVE, TradingState.REDUCING)

    # then closing passes, opening and growing do not
    assert risk.state is TradingState.REDUCING
    assert risk.halted_reason == "the strategy's trading state is reducing"
    assert risk.check_order(sell("AAA", 100), portfolio) is APPROVED
    assert risk.check_order(sell("AAA", 40), portfolio) is APPROVED
    assert risk.check_order(buy("BBB", 10), portfolio) == refused(
        (
            "trading_reducing",
            "Trading is reducing (global active, strategy reducing): only orders that shrink a position "
            "pass, "
            "and this one would buy 10 BBB while 0 are held.",
        )
    )
    assert codes(risk.check_order(buy("AAA", 10), portfolio)) == ["trading_reducing"]


def test_halted_refuses_even_a_close():
    risk, portfolio = manager(), book(AAA=100)
    risk.set_external_state("halted", "active")

    assert risk.state is TradingState.HALTED
    assert risk.halted_reason == "the global trading state is halted"
    assert risk.check_order(sell("AAA", 100, reduce_only=True), portfolio) == refused(
        ("trading_halted", "Trading is halted (global halted, strategy active): no order passes.")
    )


def test_the_stricter_of_the_global_and_strategy_states_wins():
    risk = manager()
    risk.set_external_state("reducing", "halted")

    assert risk.state is TradingState.HALTED
    assert codes(risk.check_order(sell("AAA", 100), book(AAA=100))) == ["trading_halted"]


def test_back_to_active_everything_passes_again():
    risk = manager()
    risk.set_external_state("halted", "halted")
    risk.set_external_state("active", "active")

    assert risk.state is TradingState.ACTIVE
    assert risk.halted_reason is None
    assert risk.check_order(buy(), book()) is APPROVED


# --- risk per trade, capital deployed, positions --------------------------------------------------


def test_the_risk_per_trade_is_the_distance_to_the_stop_loss_times_the_quantity():
    risk = manager(max_risk_per_trade_pct=1)  # 1,000 of 100,000

    assert risk.check_order(buy("BBB", 100, stop_loss=90.0), book()) is APPROVED
    assert risk.check_order(buy("BBB", 101, stop_loss=90.0), book()) == refused(
        (
            "risk_per_trade",
            "The order risks 1,010.00 (101 x |100 - 90| to its stop-loss), above 1% of equity 100,000.00 "
            "(1,000.00).",
        )
    )
    assert risk.check_order(sell("BBB", 100, stop_loss=110.0), book()) is APPROVED  # a short's stop is above


def test_without_a_stop_loss_the_whole_notional_is_at_risk():
    risk = manager(max_risk_per_trade_pct=1)

    assert risk.check_order(buy("BBB", 10), book()) is APPROVED
    assert risk.check_order(buy("BBB", 11), book()) == refused(
        (
            "risk_per_trade",
            "The order risks 1,100.00 (the whole notional of 11 x 100, having no stop-loss), above 1% of "
            "equity "
            "100,000.00 (1,000.00).",
        )
    )


def test_a_flip_risks_only_the_position_it_opens():
    # given 100 AAA held: selling 110 closes them and opens a 10-share short
    risk, portfolio = manager(max_risk_per_trade_pct=1), book(AAA=100)

    assert risk.check_order(sell("AAA", 110), portfolio) is APPROVED
    assert codes(risk.check_order(sell("AAA", 111), portfolio)) == ["risk_per_trade"]


def test_the_capital_deployed_after_the_order_may_reach_the_limit_and_no_more():
    # given 100 AAA held (10,000 of gross exposure) and 100,000 of equity, 50% deployable
    risk, portfolio = manager(max_capital_deployed_pct=50), book(AAA=100)

    assert risk.check_order(buy("BBB", 400, stop_loss=99.0), portfolio) is APPROVED
    assert risk.check_order(buy("BBB", 401, stop_loss=99.0), portfolio) == refused(
        (
            "capital_deployed",
            "The gross exposure after the order would be 50,100.00, above 50% of equity 100,000.00 "
            "(50,000.00).",
        )
    )


def test_closing_passes_the_exposure_and_risk_checks_even_when_over_them():
    # given a book deployed far beyond the limits (prices moved)
    risk, portfolio = manager(max_capital_deployed_pct=50, max_risk_per_trade_pct=0.5), book(AAA=600)
    portfolio.mark("AAA", 150.0)

    assert risk.check_order(sell("AAA", 600), portfolio) is APPROVED
    assert codes(risk.check_order(buy("AAA", 1, stop_loss=149.0), portfolio)) == ["capital_deployed"]


def test_the_last_position_allowed_may_open_and_one_more_may_not():
    risk = manager(max_concurrent_positions=5)
    four = book(AAA=10, BBB=10, CCC=10, DDD=10)
    five = book(AAA=10, BBB=10, CCC=10, DDD=10, EEE=10)

    assert risk.check_order(buy("EEE", 10), four) is APPROVED
    assert risk.check_order(buy("FFF", 10), five) == refused(
        (
            "max_positions",
            "5 positions are open, the most allowed is 5: the order would open a position in FFF.",
        )
    )
    assert risk.check_order(buy("AAA", 10), five) is APPROVED  # adding to one held opens none


# --- the breakers ---------------------------------------------------------------------------------


def test_the_daily_loss_breaker_pauses_until_the_next_session_then_resumes():
    risk, portfolio = manager(daily_loss_limit_pct=2), book(AAA=100)

    # a loss of exactly 2% of the session's start equity does not trip it
    assert risk.on_step(T0 + HOUR, 98_000.0, new_session=False) is None
    assert risk.state is TradingState.ACTIVE

    # a unit more does: REDUCING
    message = (
        "The loss since the session's start equity 100,000.00 is 2,001.00 (2.001%), beyond the 2% daily loss "
        "limit: only orders that shrink a position pass until the next session."
    )
    assert risk.on_step(T0 + 2 * HOUR, 97_999.0, new_session=False) == TradingStateChanged(
        T0 + 2 * HOUR, TradingState.ACTIVE, TradingState.REDUCING, message
    )
    assert (risk.state, risk.breaker_state, risk.halted_reason) == (TradingState.REDUCING,) * 2 + (message,)
    assert risk.check_order(sell("AAA", 100), portfolio) is APPROVED
    assert risk.check_order(buy("BBB", 10), portfolio) == refused(("daily_loss_limit", message))

    # a recovery within the session changes nothing
    assert risk.on_step(T0 + 3 * HOUR, 100_500.0, new_session=False) is None
    assert risk.state is TradingState.REDUCING

    # the next session starts ACTIVE, from the previous close
    assert risk.on_step(T0 + DAY, 100_400.0, new_session=True) == TradingStateChanged(
        T0 + DAY, TradingState.REDUCING, TradingState.ACTIVE, "a new session started"
    )
    assert risk.session_start_equity == 100_500.0
    assert risk.check_order(buy("BBB", 10), portfolio) is APPROVED


def test_an_overnight_gap_counts_in_the_new_sessions_loss():
    risk = manager(daily_loss_limit_pct=1)

    change = risk.on_step(T0 + DAY, 98_900.0, new_session=True)  # 1.1% below the previous close

    assert change.state is TradingState.REDUCING
    assert risk.session_start_equity == 100_000.0


def test_the_drawdown_breaker_halts_until_a_person_resets_it():
    # given a 6.5% drawdown limit, a peak of 110,000 and losses spread over sessions (no daily trip)
    risk, portfolio = manager(max_drawdown_pct=6.5), book(AAA=100)
    for day, equity in enumerate([110_000.0, 107_000.0, 104_000.0, 102_850.0], start=1):
        assert risk.on_step(T0 + day * DAY, equity, new_session=True) is None
    assert risk.peak_equity == 110_000.0
    assert risk.state is TradingState.ACTIVE  # 7,150 below the peak is exactly 6.5%

    # when equity falls a unit further
    message = (
        "Equity 102,849.00 is 6.501% below its peak 110,000.00, beyond the 6.5% drawdown limit: trading is "
        "halted until a person resets it."
    )
    assert risk.on_step(T0 + 4 * DAY + HOUR, 102_849.0, new_session=False) == TradingStateChanged(
        T0 + 4 * DAY + HOUR, TradingState.ACTIVE, TradingState.HALTED, message
    )

    # then nothing passes, not even a close, and a new session does not clear it
    assert risk.check_order(sell("AAA", 100), portfolio) == refused(("max_drawdown", message))
    assert codes(risk.check_order(buy("BBB", 10), portfolio)) == ["max_drawdown"]
    assert risk.on_step(T0 + 5 * DAY, 108_000.0, new_session=True) is None
    assert (risk.state, risk.halted_reason) == (TradingState.HALTED, message)

    # until a person resets it; the drawdown is then measured from the current equity
    with pytest.raises(InvalidInput, match="names the person"):
        risk.reset(by=" ")
    assert risk.reset(by="alice") == TradingStateChanged(
        T0 + 5 * DAY,
        TradingState.HALTED,
        TradingState.ACTIVE,
        "the drawdown kill switch was reset by alice",
        "alice",
    )
    assert (risk.state, risk.peak_equity, risk.reset_by) == (TradingState.ACTIVE, 108_000.0, "alice")
    assert risk.reset(by="alice") is None
    assert risk.check_order(sell("AAA", 100), portfolio) is APPROVED


def test_a_reset_leaves_a_daily_loss_pause_in_place():
    risk = manager(max_drawdown_pct=5, daily_loss_limit_pct=1)
    change = risk.on_step(T0 + HOUR, 94_000.0, new_session=False)
    assert (change.previous, change.state) == (TradingState.ACTIVE, TradingState.HALTED)

    change = risk.reset(by="bob")

    assert (change.previous, change.state) == (TradingState.HALTED, TradingState.REDUCING)
    assert change.reason.startswith("the drawdown kill switch was reset by bob; The loss since the session's")


def test_a_restored_manager_measures_from_the_restored_figures():
    risk = PolicyRiskManager(RiskPolicy(level=10, max_drawdown_pct=5, daily_loss_limit_pct=3))
    risk.restore(peak_equity=120_000.0, session_start_equity=100_000.0)

    change = risk.on_step(T0, 113_999.0, new_session=False)

    assert change.state is TradingState.HALTED  # 6,001 below the restored peak
    assert risk.session_start_equity == 100_000.0


def test_time_never_goes_backwards_and_equity_is_a_number():
    risk = manager()

    with pytest.raises(InvalidInput, match="time went backwards"):
        risk.on_step(T0 - HOUR, 100_000.0, new_session=False)
    with pytest.raises(InvalidInput, match="equity must be a finite number, not nan"):
        risk.on_step(T0 + HOUR, math.nan, new_session=False)


# --- protections ----------------------------------------------------------------------------------


def test_cooldown_refuses_entries_on_the_symbol_for_that_many_bars_after_a_loss():
    risk, portfolio = manager(cooldown_bars=2), book(AAA=100)
    risk.on_trade_closed("BBB", -50.0, T0)  # at step 0

    # the rest of step 0, then steps 1 and 2 refuse entries on BBB; other symbols and closes pass
    assert risk.check_order(buy("BBB"), portfolio) == refused(
        (
            "cooldown",
            "BBB closed a round trip at a loss of 50.00 at 2024-01-02 14:30:00+00:00, 0 bars ago: no new "
            "entry "
            "on it within 2 bars of a loss.",
        )
    )
    assert risk.check_order(buy("CCC"), portfolio) is APPROVED
    for step in (1, 2):
        risk.on_step(T0 + step * HOUR, 100_000.0, new_session=False)
        assert codes(risk.check_order(buy("BBB"), portfolio)) == ["cooldown"]
    risk.on_step(T0 + 3 * HOUR, 100_000.0, new_session=False)
    assert risk.check_order(buy("BBB"), portfolio) is APPROVED


def test_cooldown_lets_a_close_through_and_ignores_wins():
    risk, portfolio = manager(cooldown_bars=2), book(AAA=100)
    risk.on_trade_closed("AAA", -50.0, T0)
    risk.on_trade_closed("BBB", 0.0, T0)
    risk.on_trade_closed("CCC", 75.0, T0)

    assert risk.check_order(sell("AAA", 100), portfolio) is APPROVED
    assert codes(risk.check_order(buy("AAA", 10), portfolio)) == ["cooldown"]
    assert risk.check_order(buy("BBB"), portfolio) is APPROVED
    assert risk.check_order(buy("CCC"), portfolio) is APPROVED


def test_a_second_call_at_the_same_time_is_not_a_new_bar():
    risk = manager(cooldown_bars=1)
    risk.on_trade_closed("BBB", -1.0)
    risk.on_step(T0 + HOUR, 100_000.0, new_session=False)
    risk.on_step(T0 + HOUR, 99_000.0, new_session=False)

    assert risk.step == 1
    assert codes(risk.check_order(buy("BBB"), book())) == ["cooldown"]


def test_the_stoploss_guard_needs_its_losses_within_the_lookback():
    # given 2 losses within 3 bars pausing entries for 2 bars
    guard = StoplossGuard(trade_limit=2, lookback_bars=3, stop_duration_bars=2)
    risk = manager(stoploss_guard=guard)

    # losses at steps 0 and 3 are 4 bars apart: no pause
    risk.on_trade_closed("AAA", -10.0, T0)
    for step in (1, 2, 3):
        risk.on_step(T0 + step * HOUR, 100_000.0, new_session=False)
    risk.on_trade_closed("BBB", -10.0, T0 + 3 * HOUR)

    assert risk.check_order(buy("CCC"), book()) is APPROVED


def test_the_stoploss_guard_pauses_the_strategys_entries_then_lets_them_through():
    guard = StoplossGuard(trade_limit=2, lookback_bars=3, stop_duration_bars=2)
    risk, portfolio = manager(stoploss_guard=guard), book(AAA=100)

    # given losses at steps 0 and 2 (within 3 bars)
    risk.on_trade_closed("AAA", -10.0, T0)
    risk.on_step(T0 + HOUR, 100_000.0, new_session=False)
    risk.on_step(T0 + 2 * HOUR, 100_000.0, new_session=False)
    risk.on_trade_closed("BBB", -10.0, T0 + 2 * HOUR)

    # then entries on any symbol are refused for the rest of step 2 and steps 3 and 4, closes pass
    assert risk.check_order(buy("CCC"), portfolio) == refused(
        (
            "stoploss_guard",
            "Stoploss guard: 2 losing round trips within the last 3 bars reached its limit of 2, pausing "
            "entries for 2 bars after bar 2: 2 bars to go after this one.",
        )
    )
    assert risk.check_order(sell("AAA", 100), portfolio) is APPROVED
    for step in (3, 4):
        risk.on_step(T0 + step * HOUR, 100_000.0, new_session=False)
        assert codes(risk.check_order(buy("CCC"), portfolio)) == ["stoploss_guard"]
    risk.on_step(T0 + 5 * HOUR, 100_000.0, new_session=False)
    assert risk.check_order(buy("CCC"), portfolio) is APPROVED


# --- every reason at once -------------------------------------------------------------------------


def test_the_decision_lists_every_failing_check_in_order():
    # given a tight policy, one order already sent this minute, 5 positions open, both breakers and
    # both protections tripped, and trading halted from outside
    risk = manager(
        max_qty=50,
        qty_decimals=0,
        max_order_notional=1_000,
        max_orders_per_minute=1,
        max_orders_per_minute_global=1,
        max_risk_per_trade_pct=1,
        max_capital_deployed_pct=50,
        max_concurrent_positions=5,
        daily_loss_limit_pct=1,
        max_drawdown_pct=5,
        cooldown_bars=3,
        stoploss_guard=StoplossGuard(trade_limit=1, lookback_bars=5, stop_duration_bars=5),
    )
    portfolio = book(AAA=100, BBB=100, CCC=100, DDD=100, EEE=100)
    assert risk.check_order(sell("AAA", 1), portfolio) is APPROVED
    risk.on_step(T0 + timedelta(seconds=30), 94_000.0, new_session=False)
    risk.on_trade_closed("ZZZ", -10.0, T0 + timedelta(seconds=30))
    risk.set_external_state("halted", "active")

    # when a reduce-only order of 600.5 ZZZ (unmarked, limit 100, no stop) is checked
    order = Order("ZZZ", Side.BUY, qty=600.5, order_type=OrderType.LIMIT, limit_price=100.0, reduce_only=True)
    decision = risk.check_order(order, portfolio)

    # then every check it fails has its reason, in the fixed order
    now = "2024-01-02 14:30:30+00:00"
    assert decision == refused(
        ("qty_above_max", "The order would buy 600.5 ZZZ: 600.5 is above the maximum quantity 50."),
        ("qty_precision", "The quantity 600.5 is not a multiple of 1 (0 decimals)."),
        ("notional_above_max", "The order's notional 60,050.00 is above the maximum per order, 1,000.00."),
        (
            "buying_power",
            "The order would buy 600.5 ZZZ, adding 60,050.00 of exposure: more than the buying power "
            "50,000.00.",
        ),
        (
            "rate_limit_strategy",
            f"1 order of the strategy in the minute up to {now}: at the limit of 1 per minute.",
        ),
        (
            "rate_limit_global",
            f"1 order of all strategies in the minute up to {now}: at the limit of 1 per minute.",
        ),
        (
            "reduce_only_grows",
            "A reduce-only order would buy 600.5 ZZZ while 0 are held: it would open or grow a position.",
        ),
        ("trading_halted", "Trading is halted (global halted, strategy active): no order passes."),
        (
            "risk_per_trade",
            "The order risks 60,050.00 (the whole notional of 600.5 x 100, having no stop-loss), above 1% of "
            "equity 100,000.00 (1,000.00).",
        ),
        (
            "capital_deployed",
            "The gross exposure after the order would be 110,050.00, above 50% of equity 100,000.00 "
            "(50,000.00).",
        ),
        (
            "max_positions",
            "5 positions are open, the most allowed is 5: the order would open a position in ZZZ.",
        ),
        (
            "daily_loss_limit",
            "The loss since the session's start equity 100,000.00 is 6,000.00 (6%), beyond the 1% daily loss "
            "limit: only orders that shrink a position pass until the next session.",
        ),
        (
            "max_drawdown",
            "Equity 94,000.00 is 6% below its peak 100,000.00, beyond the 5% drawdown limit: trading is "
            "halted "
            "until a person resets it.",
        ),
        (
            "cooldown",
            f"ZZZ closed a round trip at a loss of 10.00 at {now}, 0 bars ago: no new entry on it within 3 "
            "bars of "
            "a loss.",
        ),
        (
            "stoploss_guard",
            "Stoploss guard: 1 losing round trip within the last 5 bars reached its limit of 1, pausing "
            "entries for 5 bars after bar 1: 5 bars to go after this one.",
        ),
    )
    # every code but those this order cannot fail together with the others, and those of option orders
    assert codes(decision) == [
        code
        for code in RefusalCode
        if code not in {"no_step", "price_invalid", "qty_below_min", "trading_reducing", *OPTION_CODES}
    ]


OPTION_CODES = {
    "option_price_missing",
    "naked_call",
    "put_not_secured",
    "option_exposure_missing",
    "net_delta",
    "net_vega",
}
