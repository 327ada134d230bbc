import pytest
from pydantic import ValidationError

from marketdata.core.errors import InvalidInput
from risk.core.policy import RANGES, RiskLimits, RiskPolicy, StoplossGuard, level_value

TIGHTEST = {
    "max_risk_per_trade_pct": 0.5,
    "max_capital_deployed_pct": 50.0,
    "max_concurrent_positions": 5,
    "daily_loss_limit_pct": 1.0,
    "max_drawdown_pct": 5.0,
    "max_net_delta_pct": 10.0,
    "max_net_vega_pct": 0.1,
}
LOOSEST = {
    "max_risk_per_trade_pct": 2.0,
    "max_capital_deployed_pct": 80.0,
    "max_concurrent_positions": 15,
    "daily_loss_limit_pct": 3.0,
    "max_drawdown_pct": 12.0,
    "max_net_delta_pct": 50.0,
    "max_net_vega_pct": 0.5,
}
# The default, level 6: tight + (loose - tight) x 5 / 9, the number of positions rounded.
LEVEL_6 = {
    "max_risk_per_trade_pct": 0.5 + 1.5 * 5 / 9,
    "max_capital_deployed_pct": 50 + 30 * 5 / 9,
    "max_concurrent_positions": 11,
    "daily_loss_limit_pct": 1 + 2 * 5 / 9,
    "max_drawdown_pct": 5 + 7 * 5 / 9,
    "max_net_delta_pct": 10 + 40 * 5 / 9,
    "max_net_vega_pct": 0.1 + 0.4 * 5 / 9,
}
BROKER_DEFAULTS = {
    "max_order_notional": None,
    "min_qty": None,
    "max_qty": None,
    "qty_decimals": None,
    "max_orders_per_minute": None,
    "max_orders_per_minute_global": None,
    "cooldown_bars": 0,
    "stoploss_guard_trade_limit": None,
    "stoploss_guard_lookback_bars": None,
    "stoploss_guard_stop_duration_bars": None,
}


def test_level_1_takes_the_tightest_end_of_every_range():
    assert RiskPolicy(level=1).values() == {"level": 1, **TIGHTEST, **BROKER_DEFAULTS}


def test_level_10_takes_the_loosest_end_of_every_range():
    assert RiskPolicy(level=10).values() == {"level": 10, **LOOSEST, **BROKER_DEFAULTS}


def test_the_default_is_level_6():
    # given the default policy
    policy = RiskPolicy.default()

    # then every ranged value sits 5/9 of the way from the tight end to the loose end
    assert policy == RiskPolicy()
    assert policy.values() == {"level": 6, **LEVEL_6, **BROKER_DEFAULTS}
    assert policy.values()["max_risk_per_trade_pct"] == pytest.approx(1.3333333333)
    assert policy.values()["max_drawdown_pct"] == pytest.approx(8.8888888889)


@pytest.mark.parametrize(
    ("level", "positions"),
    [(1, 5), (2, 6), (3, 7), (4, 8), (5, 9), (6, 11), (7, 12), (8, 13), (9, 14), (10, 15)],
)
def test_the_number_of_positions_is_rounded_at_every_level(level, positions):
    assert RiskPolicy(level=level).resolved().max_concurrent_positions == positions
    assert level_value("max_concurrent_positions", level) == positions


@pytest.mark.parametrize("level", [0, 11, -3])
def test_a_level_outside_1_to_10_is_refused(level):
    with pytest.raises(ValidationError, match=f"level must be between 1 and 10, not {level}"):
        RiskPolicy(level=level)


@pytest.mark.parametrize("name", list(RANGES))
def test_each_ranged_value_is_settable_at_both_ends_of_its_range(name):
    # given a value set on its own at each end, at a level that would pick another one
    tight = RiskPolicy(level=6, **{name: TIGHTEST[name]})
    loose = RiskPolicy(level=6, **{name: LOOSEST[name]})

    # then it is in force, and the other values still follow the level
    assert tight.values() == {"level": 6, **LEVEL_6, name: TIGHTEST[name], **BROKER_DEFAULTS}
    assert loose.values() == {"level": 6, **LEVEL_6, name: LOOSEST[name], **BROKER_DEFAULTS}
    assert tight.overridden() == frozenset({name})


OUTSIDE = [
    (
        "max_risk_per_trade_pct",
        0.49,
        "max_risk_per_trade_pct must be between 0.5 and 2 (% of equity), not 0.49",
    ),
    (
        "max_risk_per_trade_pct",
        2.01,
        "max_risk_per_trade_pct must be between 0.5 and 2 (% of equity), not 2.01",
    ),
    (
        "max_capital_deployed_pct",
        49.9,
        "max_capital_deployed_pct must be between 50 and 80 (% of equity), not 49.9",
    ),
    (
        "max_capital_deployed_pct",
        80.1,
        "max_capital_deployed_pct must be between 50 and 80 (% of equity), not 80.1",
    ),
    ("max_concurrent_positions", 4, "max_concurrent_positions must be between 5 and 15 (positions), not 4"),
    ("max_concurrent_positions", 16, "max_concurrent_positions must be between 5 and 15 (positions), not 16"),
    (
        "daily_loss_limit_pct",
        0.99,
        "daily_loss_limit_pct must be between 1 and 3 (% of the session's start equity), not 0.99",
    ),
    (
        "daily_loss_limit_pct",
        3.01,
        "daily_loss_limit_pct must be between 1 and 3 (% of the session's start equity)",
    ),
    ("max_drawdown_pct", 4.99, "max_drawdown_pct must be between 5 and 12 (% of the peak equity), not 4.99"),
    (
        "max_drawdown_pct",
        12.01,
        "max_drawdown_pct must be between 5 and 12 (% of the peak equity), not 12.01",
    ),
    (
        "max_drawdown_pct",
        float("nan"),
        "max_drawdown_pct must be between 5 and 12 (% of the peak equity), not nan",
    ),
    ("max_net_delta_pct", 9.9, "max_net_delta_pct must be between 10 and 50 (% of equity), not 9.9"),
    ("max_net_delta_pct", 50.5, "max_net_delta_pct must be between 10 and 50 (% of equity), not 50.5"),
    (
        "max_net_vega_pct",
        0.09,
        "max_net_vega_pct must be between 0.1 and 0.5 (% of equity per volatility point), not 0.09",
    ),
    (
        "max_net_vega_pct",
        0.51,
        "max_net_vega_pct must be between 0.1 and 0.5 (% of equity per volatility point), not 0.51",
    ),
]


@pytest.mark.parametrize(("name", "value", "message"), OUTSIDE)
def test_a_value_outside_its_range_is_refused_naming_the_field_and_the_range(name, value, message):
    with pytest.raises(ValidationError) as caught:
        RiskPolicy(**{name: value})
    assert message in str(caught.value)
    assert caught.value.errors()[0]["loc"] == (name,)


def test_from_data_refuses_in_one_line_as_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        RiskPolicy.from_data({"max_concurrent_positions": 16, "leverage": 2})
    assert caught.value.message == (
        "risk policy: max_concurrent_positions: max_concurrent_positions must be between 5 and 15 "
        "(positions), not 16; leverage: unknown field"
    )


def test_from_data_builds_the_policy_of_a_mapping():
    policy = RiskPolicy.from_data({"level": 7, "max_drawdown_pct": 10, "stoploss_guard": {
        "trade_limit": 3, "lookback_bars": 20, "stop_duration_bars": 5}})  # fmt: skip

    assert policy.resolved() == RiskLimits(
        level=7,
        max_risk_per_trade_pct=0.5 + 1.5 * 6 / 9,
        max_capital_deployed_pct=50 + 30 * 6 / 9,
        max_concurrent_positions=12,
        daily_loss_limit_pct=1 + 2 * 6 / 9,
        max_drawdown_pct=10.0,
        max_net_delta_pct=10 + 40 * 6 / 9,
        max_net_vega_pct=0.1 + 0.4 * 6 / 9,
        max_order_notional=None,
        min_qty=None,
        max_qty=None,
        qty_decimals=None,
        max_orders_per_minute=None,
        max_orders_per_minute_global=None,
        cooldown_bars=0,
        stoploss_guard=StoplossGuard(trade_limit=3, lookback_bars=20, stop_duration_bars=5),
    )
    assert policy.overridden() == frozenset({"max_drawdown_pct"})


def test_the_broker_grade_limits_appear_in_values():
    policy = RiskPolicy(
        max_order_notional=25_000,
        min_qty=1,
        max_qty=1_000,
        qty_decimals=0,
        max_orders_per_minute=30,
        max_orders_per_minute_global=120,
        cooldown_bars=3,
        stoploss_guard=StoplossGuard(trade_limit=2, lookback_bars=10, stop_duration_bars=4),
    )

    assert policy.values() == {
        "level": 6,
        **LEVEL_6,
        "max_order_notional": 25_000.0,
        "min_qty": 1.0,
        "max_qty": 1_000.0,
        "qty_decimals": 0,
        "max_orders_per_minute": 30,
        "max_orders_per_minute_global": 120,
        "cooldown_bars": 3,
        "stoploss_guard_trade_limit": 2,
        "stoploss_guard_lookback_bars": 10,
        "stoploss_guard_stop_duration_bars": 4,
    }


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"max_order_notional": 0}, "max_order_notional"),
        ({"max_order_notional": float("inf")}, "max_order_notional"),
        ({"min_qty": -1}, "min_qty"),
        ({"max_qty": 0}, "max_qty"),
        ({"qty_decimals": -1}, "qty_decimals"),
        ({"qty_decimals": 13}, "qty_decimals"),
        ({"max_orders_per_minute": 0}, "max_orders_per_minute"),
        ({"max_orders_per_minute_global": 0}, "max_orders_per_minute_global"),
        ({"cooldown_bars": -1}, "cooldown_bars"),
        (
            {"stoploss_guard": {"trade_limit": 0, "lookback_bars": 5, "stop_duration_bars": 5}},
            "stoploss_guard",
        ),
        ({"risk_per_trade": 1}, "risk_per_trade"),
    ],
)
def test_broker_grade_limits_are_validated(fields, where):
    with pytest.raises(ValidationError) as caught:
        RiskPolicy(**fields)
    assert caught.value.errors()[0]["loc"][0] == where


def test_min_qty_above_max_qty_is_refused():
    with pytest.raises(ValidationError, match="min_qty 10 is above max_qty 5"):
        RiskPolicy(min_qty=10, max_qty=5)


def test_the_policy_is_frozen():
    policy = RiskPolicy()
    with pytest.raises(ValidationError):
        policy.level = 3
