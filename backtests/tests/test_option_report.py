"""The report of an options backtest: its option trades (legs, units, net premium at entry and exit,
greeks at entry, P&L per leg, commission, exit reason) in the JSON document and the HTML page."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backtests.core.options_engine import OptionsBacktestEngine
from backtests.core.report import ReportGenerator
from backtests.core.results import BacktestConfig
from marketdata.core.bars import bar_frame
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.config import StrategyConfig
from strategies.core.registry import strategy_build

DAYS = [datetime(2024, 3, d, tzinfo=UTC) for d in (11, 12, 13, 14, 15)]  # Monday to Friday
LONG, SHORT = "AAA240315P00090000", "AAA240315P00095000"  # both expire on the Friday


@pytest.fixture(scope="module")
def result():
    """A bull put spread opened on the Monday (short the 95 put at its bid 1.90, long the 90 put at
    its ask 0.90: a credit of 1.00) and held to expiry, AAA at 100 all week: both expire worthless."""
    quotes = {"bid": [0.80, 1.90], "ask": [0.90, 2.00], "delta": [-0.15, -0.30]}
    quotes |= {"vega": [8.0, 10.0], "theta": [-3.0, -5.0], "iv": [0.3, 0.3]}
    chains = chain_frame(
        [day for day in DAYS for _ in range(2)],
        [LONG, SHORT] * len(DAYS),
        **{name: values * len(DAYS) for name, values in quotes.items()},
    )
    closes = [100.0] * len(DAYS)
    bars = bar_frame(DAYS, closes, closes, closes, closes, [1e6] * len(DAYS))
    strategy = strategy_build(
        StrategyConfig(
            strategy="bull_put_spread",
            universe=["AAA"],
            parameters={"short_delta": 0.3, "dte": 4, "exit_dte": 0},
        )
    )
    config = BacktestConfig(initial_capital=Decimal("10000"), commission_per_trade=Decimal("0"))
    return OptionsBacktestEngine().run(strategy, bars, chains, config)


def test_the_json_report_holds_each_option_trade_with_its_legs_greeks_and_pnl(result):
    document = ReportGenerator().generate_json(result)

    [trade] = document["option_trades"]
    assert trade == {
        "underlying": "AAA",
        "order_id": trade["order_id"],
        "units": 1,
        "legs": [
            {
                "symbol": LONG,
                "side": "buy",
                "ratio": 1,
                "contracts": 1,
                "entry_price": 0.90,
                "exit_price": 0.0,
                "pnl": pytest.approx(-90.0),
            },
            {
                "symbol": SHORT,
                "side": "sell",
                "ratio": 1,
                "contracts": -1,
                "entry_price": 1.90,
                "exit_price": 0.0,
                "pnl": pytest.approx(190.0),
            },
        ],
        "entry_time": "2024-03-11T00:00:00+00:00",
        "exit_time": "2024-03-15T00:00:00+00:00",
        "entry_price": pytest.approx(-1.00),
        "exit_price": 0.0,
        # long 0.15 delta, short 0.30, x 100 shares x spot 100; vega per point; theta per day
        "entry_greeks": {
            "delta": pytest.approx(1500.0),
            "vega": pytest.approx(-2.0),
            "theta": pytest.approx(200 / 365),
        },
        "commission": pytest.approx(1.30),  # 2 contracts at 0.65
        "pnl": pytest.approx(98.70),
        "exit_reason": "expired",
    }
    assert trade["order_id"].startswith("oo")
    assert document["metrics"]["total_trades"] == 1
    assert document["trades"] == []  # no shares traded


def test_the_html_report_has_a_section_of_option_trades(result):
    page = ReportGenerator().generate_html(result)

    section = page[page.index('<section id="options">') : page.index('<section id="config">')]
    assert "<h2>Option trades</h2>" in section
    assert f"buy 1 {LONG} 0.90 &rarr; 0.00 <span class='num neg'>-90.00</span>" in section
    assert f"sell 1 {SHORT} 1.90 &rarr; 0.00 <span class='num pos'>190.00</span>" in section
    assert "<td class='num'>-1.00</td><td class='num'>0.00</td>" in section  # net at entry and exit
    assert "<td class='num'>1,500.00</td><td class='num'>-2.00</td><td class='num'>0.55</td>" in section
    assert "<td class='num'>1.30</td><td class='num pos'>98.70</td><td class='wrap'>expired</td>" in section


def test_a_share_backtest_has_no_option_trades_section(result):
    shares = replace(result, option_trades=[], metadata={**result.metadata, "path": "event"})
    page = ReportGenerator().generate_html(shares)

    assert '<section id="options">' not in page
    assert ReportGenerator().generate_json(shares)["option_trades"] == []
