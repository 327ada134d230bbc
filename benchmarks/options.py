"""Options backtest speed: the iron_condor strategy on five years of one underlying, one run.

AAA's seeded synthetic daily bars from 2019 to 2023 (1,258 sessions) and their synthetic chains
(about 770,000 quotes), then the registered iron_condor strategy (short deltas 0.16, 35 days to
expiry, one unit) through OptionsBacktestEngine, every order checked by a PolicyRiskManager of the
default policy (level 6), marks by quote and cash settlement:

1. cold: a new Python process imports the engine, builds the chains and runs the backtest once
   (what a user's first run costs: imports, then the work);
2. warm, in this process: the chains built again, and the backtest run again, best of three each.

No open backtester simulates option spreads against chains (backtesting.py, backtrader and
vectorbt trade one price series per instrument), so there is no reference to run beside it. Run
with `make bench`; needs nothing but the virtualenv.
"""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

START, END = datetime(2019, 1, 2, tzinfo=UTC), datetime(2023, 12, 29, tzinfo=UTC)
REPEATS = 3


def inputs():
    from marketdata.core.bars import Timeframe
    from marketdata.core.providers.synthetic import SyntheticProvider
    from marketdata.core.providers.synthetic_chains import SyntheticChainConfig

    history = START - timedelta(days=SyntheticChainConfig().history_days)
    return SyntheticProvider(seed=7).bars("AAA", history, END, Timeframe.D1)


def chains_of(bars):
    from marketdata.core.providers.synthetic_chains import synthetic_chains

    return synthetic_chains("AAA", bars, START, END, seed=7)


def backtest(bars, chains):
    from backtests.core.options_engine import OptionsBacktestEngine, OptionsConfig
    from backtests.core.results import BacktestConfig
    from risk.core.manager import PolicyRiskManager
    from risk.core.policy import RiskPolicy
    from strategies.core.config import StrategyConfig
    from strategies.core.registry import strategy_build

    config = StrategyConfig(
        strategy="iron_condor",
        name="bench_condor",
        universe=["AAA"],
        parameters={"short_delta": 0.16, "dte": 35, "units": 1},
    )
    return OptionsBacktestEngine(PolicyRiskManager(RiskPolicy.default())).run(
        strategy_build(config),
        bars,
        chains,
        BacktestConfig(initial_capital=Decimal(100_000), trade_start=START),
        OptionsConfig(),
    )


def once() -> None:
    """One cold run, in the process that calls it: prints seconds of imports, chains, backtest."""
    started = time.perf_counter()
    import backtests.core.options_engine  # noqa: F401
    import strategies.core.option_strategies  # noqa: F401

    imported = time.perf_counter()
    bars = inputs()
    chains = chains_of(bars)
    built = time.perf_counter()
    result = backtest(bars, chains)
    done = time.perf_counter()
    print(imported - started, built - imported, done - built, len(result.option_trades))


def best(fn, *args):
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        value = fn(*args)
        times.append(time.perf_counter() - started)
    return min(times), value


def main() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "from benchmarks.options import once; once()"],
        capture_output=True,
        text=True,
        check=True,
    )
    imports, chains_cold, backtest_cold, trades_cold = run.stdout.split()
    bars = inputs()
    chains_warm, chains = best(chains_of, bars)
    backtest_warm, result = best(backtest, bars, chains)
    assert len(result.option_trades) == int(trades_cold), "the cold and warm runs disagree"
    sessions = len(result.equity_curve)
    print(f"iron_condor on AAA, {sessions:,} sessions, {len(chains):,} quotes, {trades_cold} condors")
    print(f"{'step':<44}{'cold (new process)':>20}{'warm (best of 3)':>18}")
    print(f"{'imports':<44}{float(imports):>19.2f}s{'':>18}")
    print(f"{'synthetic chains':<44}{float(chains_cold):>19.2f}s{chains_warm:>17.2f}s")
    step = "backtest (strategy, risk, fills, expiries)"
    print(f"{step:<44}{float(backtest_cold):>19.2f}s{backtest_warm:>17.2f}s")
    print(f"sessions per second, warm backtest: {sessions / backtest_warm:,.0f}")


if __name__ == "__main__":
    main()
