"""Trades: round trips as columns, read as Trade tuples."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from execution.core.ledger import Trade, Trades, round_trips

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
RECORDS = [
    Trade("AAA", "long", 10.0, T0, 100.0, T0 + timedelta(days=2), 110.0, 98.0, 2.0, 0, 2),
    Trade("BBB", "short", 4.0, T0 + timedelta(days=1), 50.0, T0 + timedelta(days=3), 55.0, -21.5, 1.5, 1, 3),
    Trade("AAA", "long", 2.5, T0 + timedelta(days=3), 120.0, T0 + timedelta(days=5), 90.0, -76.0, 1.0, 3, 5),
]


def test_columns_read_back_as_the_same_trades():
    trades = Trades.from_records(RECORDS)
    assert list(trades) == RECORDS
    assert trades == RECORDS
    assert trades == tuple(RECORDS)
    assert trades != RECORDS[:2]
    assert len(trades) == 3
    assert (trades[0], trades[2], trades[-1], trades[-3]) == (RECORDS[0], RECORDS[2], RECORDS[2], RECORDS[0])
    assert isinstance(trades[1:], Trades)
    assert list(trades[1:]) == RECORDS[1:]
    with pytest.raises(IndexError):
        trades[3]
    with pytest.raises(IndexError):
        trades[-4]


def test_trade_figures_by_column_are_the_tuples_figures():
    trades = Trades.from_records(RECORDS)
    returns = [t.return_pct for t in RECORDS]
    assert trades.return_pct.tolist() == returns == pytest.approx([10.0, -10.0, -25.0])
    assert trades.bars_held.tolist() == [t.bars_held for t in RECORDS] == [2, 2, 2]
    assert trades.pnl.tolist() == [98.0, -21.5, -76.0]
    assert trades.entry_time[1] == T0 + timedelta(days=1)


def test_no_trades():
    empty = Trades.from_records([])
    assert (len(empty), list(empty), empty == [], empty.pnl.dtype, str(empty.entry_time.tz)) == (
        0,
        [],
        True,
        np.float64,
        "UTC",
    )


def test_round_trips_from_fill_arrays_match_the_ledgers_arithmetic():
    """Fills alternate open, close: a long of 10 from 100 to 110, then a short of 4 from 50 to 55, then
    an open long that is never closed (no trade)."""
    ts = pd.date_range(T0, periods=6, freq="D")
    trades = round_trips(
        "AAA",
        ts,
        bars=np.array([0, 2, 3, 4, 5]),
        signs=np.array([1, -1, -1, 1, 1]),
        qtys=np.array([10.0, 10.0, 4.0, 4.0, 1.0]),
        prices=np.array([100.0, 110.0, 50.0, 55.0, 60.0]),
        commissions=np.array([1.0, 1.0, 0.5, 0.5, 0.25]),
    )
    assert list(trades) == [
        Trade("AAA", "long", 10.0, ts[0], 100.0, ts[2], 110.0, 98.0, 2.0, 0, 2),
        Trade("AAA", "short", 4.0, ts[3], 50.0, ts[4], 55.0, -21.0, 1.0, 3, 4),
    ]
