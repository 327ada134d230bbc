"""Execution speed on PostgreSQL, one run:

1. Orders per second through the full path of one order: the risk manager's checks (the default
   policy), the OMS (the order stored, then SUBMITTED, then sent), the paper broker's fill, and the
   fill applied (Fill row, position, cash, audit rows), each order in its own transactions as in a
   session. Median and p99 latency per order.
2. Bar-to-order latency of the trading loop over Redis: a new bar is stored and its ingestion
   announced on the Redis event bus; a trading session in another thread wakes, reads the new bar
   from the database, runs the strategy over the bars so far, checks and sends its order. From the
   announcement to the order filled; median and p99.

Targets: at least 500 orders/s, p99 bar-to-order under 50 ms. Run with `make bench`; needs
PostgreSQL (BENCH_DATABASE_URL) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/0).
"""

import os
import queue
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from benchmarks.ingest import BENCH_URL, ensure_database

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ORDERS = int(os.environ.get("BENCH_ORDERS", "3000"))
BARS = int(os.environ.get("BENCH_LIVE_BARS", "200"))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    ensure_database(BENCH_URL)
    os.environ.update({"DATABASE_URL": BENCH_URL, "REDIS_URL": REDIS_URL, "LOG_LEVEL": "WARNING"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from execution.core.brokers.simulated import SimulatedBrokerClient
    from execution.core.costs import CommissionModel, SlippageModel
    from execution.services import OrderSpec, account_open, order_create, order_submit, order_update_apply
    from execution.trading_services import TradingSession, trading_session_live
    from marketdata.core.bars import Timeframe, bar_frame
    from marketdata.services import bars_upsert, instrument_ensure
    from quantsite.events import event_bus
    from quantsite.roles import OPERATOR
    from risk.core.manager import PolicyRiskManager
    from risk.core.policy import RiskPolicy
    from strategies.core.base import SIGNAL_FLAT, SIGNAL_LONG
    from strategies.core.builtin import ArraySignalStrategy
    from strategies.core.config import Sizing, StrategyConfig
    from strategies.core.registry import register
    from strategies.core.types import Order, PriceBar, Side
    from strategies.lifecycle_services import (
        approval_decide,
        promotion_request,
        strategy_version_advance,
        strategy_version_create,
    )

    call_command("migrate", verbosity=0)
    users = []
    for name in ("bench-olga", "bench-otto"):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=OPERATOR))
        users.append(user)
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")

    def paper_version(config):
        version = strategy_version_create(config=config, created_by=users[0])
        for _ in range(2):
            approval = promotion_request(version=version, requested_by=users[0])
            approval_decide(approval=approval, decided_by=users[1], approve=True)
            version.refresh_from_db()
            if version.stage == "backtest_approved":
                strategy_version_advance(version=version, to="backtested")
        return version

    # --- 1. orders per second through risk, OMS and the paper broker ------------------------------
    version = paper_version(StrategyConfig(strategy="momentum", name=f"bench-oms-{run}", universe=["BENCH"]))
    ts = datetime(2024, 5, 2, 20, tzinfo=UTC)
    client = SimulatedBrokerClient(
        cash=1e9, commission=CommissionModel(per_trade=1.0), slippage=SlippageModel(bps=1)
    )
    client.bar_open(PriceBar("BENCH", ts, 100.0, 101.0, 99.0, 100.0, 1e9, 0))
    client.stream_updates(lambda update: order_update_apply(update=update))
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10**9))
    risk = PolicyRiskManager(RiskPolicy.default())
    risk.on_step(ts, client.portfolio.equity, new_session=True)
    latencies = []
    started = time.perf_counter()
    for k in range(ORDERS):
        t = time.perf_counter()
        side = Side.BUY if k % 2 == 0 else Side.SELL
        order = Order("BENCH", side, qty=10)
        decision = risk.check_order(order, client.portfolio)
        assert decision.approved, decision.reasons
        stored = order_create(
            version=version,
            mode="paper",
            broker="simulated",
            spec=OrderSpec("BENCH", side, Decimal(10)),
            signal=f"{k}",
        )
        order_submit(order=stored, client=client)
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    per_ms = [x * 1000 for x in latencies]
    print(
        f"orders through risk + OMS + paper broker on PostgreSQL: {ORDERS:,} in {total:.2f} s, "
        f"{ORDERS / total:,.0f} orders/s; per order median {statistics.median(per_ms):.2f} ms, "
        f"p99 {percentile(per_ms, 99):.2f} ms"
    )

    # --- 2. bar-to-order latency over Redis ------------------------------------------------------

    @register
    class Alternate(ArraySignalStrategy):
        """Long on even bars, out on odd ones: an order at every bar."""

        name = "bench_alternate"

        def signal_codes(self, data, config):
            codes = np.where(np.arange(len(data)) % 2 == 0, SIGNAL_LONG, SIGNAL_FLAT).astype(np.int8)
            return codes

    symbol = f"L{run[-8:]}"
    instrument = instrument_ensure(symbol=symbol)
    days = [datetime(2020, 1, 1, 21, tzinfo=UTC) + timedelta(days=d) for d in range(300 + BARS)]
    prices = 100 + np.cumsum(np.random.default_rng(7).normal(0, 1, len(days)))

    def store(i: int) -> None:
        p = float(prices[i])
        bars_upsert(
            instrument=instrument,
            timeframe=Timeframe.D1,
            bars=bar_frame([days[i]], [p], [p + 1], [p - 1], [p], [1e6]),
            source="bench",
        )

    for i in range(300):
        store(i)
    version = paper_version(
        StrategyConfig(
            strategy="bench_alternate",
            name=f"bench-live-{run}",
            universe=[symbol],
            sizing=Sizing(mode="qty", value=1),
        )
    )
    from marketdata.selectors import stored_bars_get

    history = stored_bars_get(symbols=[symbol], timeframe=Timeframe.D1, start=None, end=None)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(100_000), history=history
    )
    sent: queue.Queue = queue.Queue()
    send = session._send

    def timed_send(order, signal) -> None:
        send(order, signal)
        sent.put(time.perf_counter())

    session._send = timed_send
    session.runner.send = timed_send
    done = threading.Event()

    def loop() -> None:
        try:
            trading_session_live(
                session=session,
                timeframe=Timeframe.D1,
                after=days[299],
                stop=done.is_set,
                wait_seconds=0.05,
            )
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.5)  # the subscription is confirmed inside trading_session_live
    bus = event_bus()
    bar_to_order = []
    for i in range(300, 300 + BARS):
        store(i)
        t = time.perf_counter()
        bus.publish("bars.ingested", {"symbols": [symbol], "timeframe": "1d"})
        filled = sent.get(timeout=10)
        bar_to_order.append((filled - t) * 1000)
    done.set()
    thread.join(timeout=5)
    session.stop()
    print(
        f"bar to order over Redis (announcement -> strategy -> risk -> OMS -> paper fill), {BARS} bars: "
        f"median {statistics.median(bar_to_order):.1f} ms, p99 {percentile(bar_to_order, 99):.1f} ms, "
        f"max {max(bar_to_order):.1f} ms"
    )


if __name__ == "__main__":
    main()
