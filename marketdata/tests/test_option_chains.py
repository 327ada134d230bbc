"""chain_frame: the ChainFrame shape every option chain source returns."""

import numpy as np
import pandas as pd
import pytest

from marketdata.core.errors import InvalidInput
from marketdata.core.providers.option_chains import CHAIN_COLUMNS, chain_frame


def test_contract_columns_come_from_the_symbols_and_rows_are_sorted():
    ts = pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-02"], utc=True)

    chain = chain_frame(
        ts,
        ["SPY240119P00470500", "SPY240119P00470500", "SPY240119C00470500"],
        bid=[1.5, 1.4, 2.0],
        ask=[1.6, 1.5, 2.2],
    )

    assert tuple(chain.columns) == CHAIN_COLUMNS
    assert chain[["ts", "symbol", "underlying", "expiry", "strike", "right", "bid", "ask"]].astype(
        {"ts": str, "expiry": str}
    ).values.tolist() == [
        ["2024-01-02 00:00:00+00:00", "SPY240119C00470500", "SPY", "2024-01-19", 470.5, "call", 2.0, 2.2],
        ["2024-01-02 00:00:00+00:00", "SPY240119P00470500", "SPY", "2024-01-19", 470.5, "put", 1.4, 1.5],
        ["2024-01-03 00:00:00+00:00", "SPY240119P00470500", "SPY", "2024-01-19", 470.5, "put", 1.5, 1.6],
    ]
    assert chain["mid"].round(9).tolist() == [2.1, 1.45, 1.55]
    assert np.isnan(
        chain[["last", "volume", "iv", "delta", "gamma", "vega", "theta", "rho"]].to_numpy()
    ).all()


def test_a_chain_refuses_unknown_columns_and_bad_symbols():
    ts = pd.to_datetime(["2024-01-02"], utc=True)

    with pytest.raises(InvalidInput) as column:
        chain_frame(ts, ["SPY240119C00470500"], price=[1.0])
    with pytest.raises(InvalidInput) as symbol:
        chain_frame(ts, ["SPY240119Z00470500"])
    with pytest.raises(InvalidInput) as lengths:
        chain_frame(ts, ["SPY240119C00470500", "SPY240119P00470500"])

    assert column.value.message == (
        "unknown chain column(s) price; use bid, ask, mid, last, volume, iv, delta, gamma, vega, theta, rho"
    )
    assert symbol.value.message == "option symbol 'SPY240119Z00470500': right 'Z' must be C (call) or P (put)"
    assert lengths.value.message == "a chain needs a time for every symbol: 1 times, 2 symbols"
