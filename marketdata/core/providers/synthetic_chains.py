"""Seeded synthetic option chains, built from the underlying's daily bars.

Each session's chain is priced at its close by Black-Scholes-Merton on a volatility surface:
the at-the-money level follows the underlying's realised volatility (21 sessions for short
expiries, 63 for long ones, blended by a term structure) times a premium, and a skew and smile
bend it across strikes. The surface's parameters are drawn once per (seed, underlying).
Expiries come from the XNYS expiry calendar: weeklies close in, monthlies further out. A
contract, once listed, stays listed until it expires, so a position can be marked every day it
is held. Bid and ask bracket the model price on the exchange's ticks, wider (as a fraction of
the price) the further from the money. Options are priced as European: American puts' early
exercise premium is not in these prices. No trades are simulated: last and volume are NaN.

A chain is a function of the bars up to its session only, so the same seed gives the same
chain whatever range is asked for, given the bars before it (see history_days).
"""

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.option_pricing import bsm_greeks, bsm_price
from marketdata.core.options import is_monthly_expiry, occ_symbols, weekly_expiries
from marketdata.core.providers.base import DataProvider, check_range
from marketdata.core.providers.option_chains import OptionChainProvider, chain_frame
from marketdata.core.providers.synthetic import TRADING_DAYS, SyntheticProvider

SHORT_WINDOW = 21  # sessions of returns behind the short end of the surface
LONG_WINDOW = 63  # and behind the long end
MIN_VOL = 0.05
MAX_WIDENING_STD_DEVS = 3.0
# (strikes below this price, listed every this many thousandths of a dollar), like the listed
# strikes of liquid US names.
STRIKE_STEPS = ((25, 500), (100, 1_000), (250, 2_500), (1_000, 5_000), (math.inf, 10_000))
PENNY_TICK_BELOW = 3.0  # options under $3 quote in cents, others in nickels
DEFAULT_SEED = 7  # of the surface's draws, wherever a chain's seed is not chosen


@dataclass(frozen=True)
class SyntheticChainConfig:
    rate: float = 0.04
    dividend_yield: float = 0.0
    monthly_days: int = 91  # monthlies are listed this many calendar days before they expire
    weekly_days: int = 35  # weeklies this many
    strike_width: float = 2.5  # strikes span this many standard deviations either side of the forward
    spread_base: float = 0.02  # dollars of spread on every option
    spread_fraction: float = 0.03  # plus this fraction of the price,
    spread_widening: float = 0.5  # both widened by this much per standard deviation from the money (up to 3)

    def __post_init__(self) -> None:
        if not 1 <= self.weekly_days <= self.monthly_days:
            raise InvalidInput(
                f"weekly_days ({self.weekly_days}) must be at least 1 and at most "
                f"monthly_days ({self.monthly_days})"
            )
        for name in ("strike_width", "spread_fraction", "spread_base"):
            if getattr(self, name) <= 0:
                raise InvalidInput(f"{name} must be positive, not {getattr(self, name)}")
        if self.spread_widening < 0 or self.dividend_yield < 0:
            raise InvalidInput("spread_widening and dividend_yield must be zero or more")

    @property
    def history_days(self) -> int:
        """Calendar days of bars before the first chain that make every chain independent of the
        range asked for: the longest listing plus the long realised-volatility window."""
        return self.monthly_days + math.ceil(LONG_WINDOW * 7 / 5) + 14


@dataclass(frozen=True)
class VolSurface:
    """Implied volatility by time to expiry and moneyness.

    atm(t) = premium * (w * rv_short + (1 - w) * rv_long), w = exp(-t / term), floored at MIN_VOL;
    vol = atm * (1 + skew * m + smile * m^2), m = ln(K / F) / (atm sqrt t), kept within
    [atm / 2, 2.5 atm].
    """

    premium: float
    term: float
    skew: float
    smile: float

    @classmethod
    def seeded(cls, seed: int, underlying: str) -> "VolSurface":
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(underlying.encode()), 1]))
        return cls(
            premium=float(rng.uniform(1.05, 1.25)),
            term=float(rng.uniform(0.05, 0.25)),
            skew=float(rng.uniform(-0.20, -0.08)),
            smile=float(rng.uniform(0.01, 0.04)),
        )

    def atm(self, rv_short, rv_long, t):
        weight = np.exp(-np.asarray(t) / self.term)
        return np.maximum(self.premium * (weight * rv_short + (1.0 - weight) * rv_long), MIN_VOL)

    def vol(self, atm, log_moneyness, t):
        m = log_moneyness / (atm * np.sqrt(t))
        return atm * np.clip(1.0 + self.skew * m + self.smile * m**2, 0.5, 2.5)


class SyntheticChainProvider(OptionChainProvider):
    name = "synthetic"

    def __init__(
        self,
        bars: DataProvider | None = None,
        *,
        seed: int = DEFAULT_SEED,
        config: SyntheticChainConfig | None = None,
    ) -> None:
        self.bars = bars or SyntheticProvider(seed=seed)
        self.seed = seed
        self.config = config or SyntheticChainConfig()

    def get_chains(self, underlying: str, start: datetime, end: datetime) -> pd.DataFrame:
        check_range(start, end)
        history = start - timedelta(days=self.config.history_days)
        bars = self.bars.get_bars(underlying, history, end, Timeframe.D1)
        return synthetic_chains(underlying, bars, start, end, seed=self.seed, config=self.config)


def synthetic_chains(
    underlying: str,
    bars: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    seed: int = DEFAULT_SEED,
    config: SyntheticChainConfig | None = None,
) -> pd.DataFrame:
    """The chains of the sessions of ``bars`` (a daily BarFrame) within [start, end], priced
    at each close. The bars before start feed realised volatility and listings: with fewer than
    config.history_days of them, early chains differ from those of a longer history."""
    config = config or SyntheticChainConfig()
    check_range(start, end)
    close = bars["close"].to_numpy(dtype="float64")
    days = bars.index
    sessions = days.tz_localize(None).to_numpy().astype("datetime64[D]")
    returns = pd.Series(np.log(close)).diff()
    scale = math.sqrt(TRADING_DAYS)
    rv_short = (returns.rolling(SHORT_WINDOW).std() * scale).to_numpy()
    rv_long = (returns.rolling(LONG_WINDOW, min_periods=SHORT_WINDOW).std() * scale).to_numpy()
    first = pd.Timestamp(start).tz_convert("UTC").normalize()
    wanted = (days >= first) & (days <= pd.Timestamp(end))
    known = ~np.isnan(rv_short)
    if not known[wanted].all():
        missing = sessions[wanted & ~known][0]
        raise InvalidInput(
            f"a chain of {underlying} on {missing} needs {SHORT_WINDOW + 1} sessions of bars up to it"
        )
    surface = VolSurface.seeded(seed, underlying)
    on = sessions[wanted].astype(object)
    expiries = (
        weekly_expiries(on[0] + timedelta(days=1), on[-1] + timedelta(days=config.monthly_days))
        if len(on)
        else []
    )
    if not expiries:
        return chain_frame(pd.DatetimeIndex([], tz="UTC"), [])
    listed = [
        _listing(e, sessions, known, wanted, close, rv_short, rv_long, surface, config) for e in expiries
    ]
    day, expiry, thousandths = (np.concatenate(parts) for parts in zip(*listed, strict=True))
    return _quotes(
        underlying, days, sessions, close, rv_short, rv_long, day, expiry, thousandths, surface, config
    )


def _listing(expiry, sessions, known, wanted, close, rv_short, rv_long, surface, config):
    """(session positions, expiries, strikes in thousandths) of one expiry's contracts on the
    wanted sessions. Strikes span strike_width standard deviations of the forward on each day
    since the expiry was listed: the span only widens, so a listed strike stays listed."""
    horizon = config.monthly_days if is_monthly_expiry(expiry) else config.weekly_days
    expiry = np.datetime64(expiry, "D")
    on = np.flatnonzero(known & (sessions < expiry) & (sessions >= expiry - np.timedelta64(horizon, "D")))
    if not wanted[on].any():
        return np.array([], dtype=int), np.array([], dtype="datetime64[D]"), np.array([], dtype=np.int64)
    t = _years(expiry, sessions[on])
    atm = surface.atm(rv_short[on], rv_long[on], t)
    forward = close[on] * np.exp((config.rate - config.dividend_yield) * t)
    spread = config.strike_width * atm * np.sqrt(t)
    low = np.minimum.accumulate(forward * np.exp(-spread))
    high = np.maximum.accumulate(forward * np.exp(spread))
    grids = [(i, strike_grid(lo, hi)) for i, lo, hi in zip(on, low, high, strict=True) if wanted[i]]
    day = np.concatenate([np.full(len(grid), i) for i, grid in grids])
    thousandths = np.concatenate([grid for _, grid in grids])
    return day, np.full(len(day), expiry), thousandths


def strike_grid(low: float, high: float) -> np.ndarray:
    """The listed strikes (in thousandths of a dollar) from low to high, on STRIKE_STEPS."""
    parts, floor = [], 0.0
    for top, step in STRIKE_STEPS:
        lo, hi = max(low, floor), min(high, top)
        if lo <= hi:
            parts.append(
                np.arange(math.ceil(lo * 1000 / step) * step, math.floor(hi * 1000 / step) * step + 1, step)
            )
        floor = top
    return np.unique(np.concatenate(parts)).astype(np.int64) if parts else np.array([], dtype=np.int64)


def _quotes(underlying, days, sessions, close, rv_short, rv_long, day, expiry, thousandths, surface, config):
    rows = len(day)
    day, expiry, thousandths = np.tile(day, 2), np.tile(expiry, 2), np.tile(thousandths, 2)
    call = np.repeat([True, False], rows)
    spot, strike, t = close[day], thousandths / 1000.0, _years(expiry, sessions[day])
    atm = surface.atm(rv_short[day], rv_long[day], t)
    log_moneyness = np.log(strike / spot) - (config.rate - config.dividend_yield) * t
    vol = surface.vol(atm, log_moneyness, t)
    args = (call, spot, strike, t, config.rate, vol, config.dividend_yield)
    price, greeks = bsm_price(*args), bsm_greeks(*args)
    away = np.minimum(np.abs(log_moneyness) / (atm * np.sqrt(t)), MAX_WIDENING_STD_DEVS)
    half = 0.5 * (config.spread_base + config.spread_fraction * price) * (1.0 + config.spread_widening * away)
    tick = np.where(price < PENNY_TICK_BELOW, 0.01, 0.05)
    # Whole ticks, with a hair of slack so that a price already on a tick stays on it.
    bid = np.maximum(np.floor((price - half) / tick + 1e-9) * tick, 0.0)
    ask = np.maximum(np.ceil((price + half) / tick - 1e-9) * tick, tick)
    symbols = _symbols(underlying, expiry, thousandths, call)
    return chain_frame(
        days[day],
        symbols,
        bid=np.round(bid, 2),
        ask=np.round(ask, 2),
        iv=vol,
        delta=greeks.delta,
        gamma=greeks.gamma,
        vega=greeks.vega,
        theta=greeks.theta,
        rho=greeks.rho,
    )


def _symbols(underlying, expiry, thousandths, call) -> np.ndarray:
    """Each row's OCC symbol, written once per contract."""
    # One integer per contract: its expiry's day, then its strike, then its right.
    keys = (expiry.astype("datetime64[D]").astype(np.int64) * 10**9 + thousandths) * 2 + call
    unique, codes = np.unique(keys, return_inverse=True)
    call_of, rest = unique % 2 == 1, unique // 2
    names = occ_symbols(underlying, (rest // 10**9).astype("datetime64[D]"), rest % 10**9, call_of)
    return names[codes.ravel()]


def _years(expiry, sessions) -> np.ndarray:
    """Calendar years from each session's close to the expiry's (both at 16:00 New York)."""
    return (expiry - sessions).astype("timedelta64[D]").astype("float64") / 365.0
