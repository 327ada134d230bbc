"""The backtests queue's worker start: the compiled code is loaded before the pool forks."""

from types import SimpleNamespace

import pytest

from backtests import tasks
from backtests.core.engine import BacktestEngine


def worker_taking(*queues):
    return SimpleNamespace(
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=queues)))
    )


@pytest.mark.parametrize(
    ("queues", "runs"), [(("backtests",), 1), (("ingestion", "backtests"), 1), (("ingestion",), 0)]
)
def test_a_worker_taking_backtests_runs_one_on_the_fast_path_before_forking(monkeypatch, queues, runs):
    # Given the engine's measurements recorded
    measured = []
    measure = BacktestEngine.measure

    def recorded(self, strategies, data, config, *, fast=None):
        measured.append(measure(self, strategies, data, config, fast=fast))
        return measured[-1]

    monkeypatch.setattr(BacktestEngine, "measure", recorded)

    # When a worker taking these queues starts
    tasks._compiled_code_loaded(worker_taking(*queues))

    # Then only a worker of the backtests queue runs a backtest, through the kernel and the metrics
    assert len(measured) == runs
    for (measurement,) in measured:
        assert measurement.metrics.total_trades == 1
        assert measurement.metrics.sharpe_ratio is not None
