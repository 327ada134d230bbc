"""Option chains: the one in-memory shape of option quotes, and the contract of their sources.

A ChainFrame is a pandas DataFrame with a row per contract quoted at a time:

    ts          UTC time of the quote (a daily chain: the session's 00:00 UTC, as daily bars are stamped)
    symbol      the contract's OCC symbol, the exact key of the contract (Decimal strike included)
    underlying, expiry (the day, as a naive midnight timestamp), strike (float64), right (call / put)
    bid, ask, mid, last, volume     float64; mid is (bid + ask) / 2
    iv, delta, gamma, vega, theta, rho   float64, in option_pricing's units (vega and rho per 1.00,
                theta per year)

sorted by ts, expiry, strike and right. A source that has no value for a column (no quotes in
historical bars, no greeks) leaves it NaN; it never makes one up.
"""

from abc import ABC, abstractmethod
from datetime import datetime

import numpy as np
import pandas as pd

from marketdata.core.errors import InvalidInput
from marketdata.core.options import occ_terms

CONTRACT_COLUMNS = ("underlying", "expiry", "strike", "right")
QUOTE_COLUMNS = ("bid", "ask", "mid", "last", "volume", "iv", "delta", "gamma", "vega", "theta", "rho")
CHAIN_COLUMNS = ("ts", "symbol", *CONTRACT_COLUMNS, *QUOTE_COLUMNS)


def chain_frame(ts, symbols, **quotes) -> pd.DataFrame:
    """A ChainFrame from column arrays: the contract columns are read from the OCC symbols, quote
    columns not given are NaN, and mid is (bid + ask) / 2 unless given."""
    unknown = sorted(set(quotes) - set(QUOTE_COLUMNS))
    if unknown:
        raise InvalidInput(f"unknown chain column(s) {', '.join(unknown)}; use {', '.join(QUOTE_COLUMNS)}")
    index = pd.DatetimeIndex(ts)
    codes, unique = pd.factorize(pd.Series(symbols, dtype="str"))
    if len(codes) != len(index):
        raise InvalidInput(f"a chain needs a time for every symbol: {len(index)} times, {len(codes)} symbols")
    terms = pd.concat([pd.Series(unique, dtype="str", name="symbol"), occ_terms(unique)], axis=1)
    frame = terms.iloc[codes].reset_index(drop=True)
    ts = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    frame.insert(0, "ts", ts.as_unit("ns"))
    for column in QUOTE_COLUMNS:
        values = quotes.get(column)
        frame[column] = np.full(len(frame), np.nan) if values is None else np.asarray(values, dtype="float64")
    if "mid" not in quotes:
        frame["mid"] = (frame["bid"] + frame["ask"]) / 2
    frame = frame.sort_values(["ts", "expiry", "strike", "right"], kind="stable", ignore_index=True)
    return frame[list(CHAIN_COLUMNS)]


class OptionChainProvider(ABC):
    name: str

    @abstractmethod
    def get_chains(self, underlying: str, start: datetime, end: datetime) -> pd.DataFrame:
        """The daily chains of ``underlying`` for the sessions of [start, end], as one ChainFrame."""
