"""Seeded synthetic bars that behave like US equities.

Each symbol follows one path from SYNTHETIC_EPOCH: drift, calm and turbulent volatility regimes
(a Markov switch), overnight gaps with occasional jumps, fat-tailed daily moves and volume that
rises with the size of the move, on XNYS sessions. Any range is a slice of that one path, so the
same seed gives the same bars whatever range is asked for, and a later range continues the
earlier one. Intraday bars bridge each session's open to its close.
"""

import zlib
from datetime import date, datetime

import numpy as np
import pandas as pd

from marketdata.core.bars import RawBars, Timeframe, bar_frame, empty_bar_frame, raw_from_frame
from marketdata.core.calendar import sessions_between, xnys
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.base import DataProvider, check_range

SYNTHETIC_EPOCH = date(2000, 1, 3)
SAMPLE_UNIVERSE = tuple(letter * 3 for letter in "ABCDEFGHIJKLMNOPQRST")
TRADING_DAYS = 252


class SyntheticProvider(DataProvider):
    name = "synthetic"

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed

    def fetch_bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> RawBars:
        return raw_from_frame(symbol, timeframe, self.bars(symbol, start, end, timeframe))

    def bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> pd.DataFrame:
        check_range(start, end)
        if start.date() < SYNTHETIC_EPOCH:
            raise InvalidInput(
                f"synthetic data starts at {SYNTHETIC_EPOCH}; start {start:%Y-%m-%d} is earlier"
            )
        daily = self._daily_path(symbol, end.date())
        if timeframe is Timeframe.D1:
            lo = pd.Timestamp(start).tz_convert("UTC").normalize()
            return daily.loc[lo : pd.Timestamp(end).tz_convert("UTC")]
        frame = self._intraday(symbol, daily, start, end, timeframe)
        return frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    def _rng(self, symbol: str, *extra: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, zlib.crc32(symbol.encode()), *extra]))

    def _daily_path(self, symbol: str, end: date) -> pd.DataFrame:
        sessions = sessions_between(SYNTHETIC_EPOCH, end)
        n = len(sessions)
        if n == 0:
            return empty_bar_frame()
        rng = self._rng(symbol)
        price0 = float(np.exp(rng.uniform(np.log(15), np.log(400))))
        drift = rng.normal(0.09, 0.04) / TRADING_DAYS
        calm_vol = rng.uniform(0.15, 0.35) / np.sqrt(TRADING_DAYS)
        base_volume = float(np.exp(rng.uniform(np.log(3e5), np.log(8e6))))
        # Every session's draws come from one row of uniforms, so the path is a pure function of
        # (seed, symbol) and a longer path extends a shorter one bar for bar.
        u = rng.random((n, 10))
        gap_noise, jump_size = _normal_pair(u[:, 0], u[:, 1])
        wick_up, wick_down = (np.abs(z) for z in _normal_pair(u[:, 2], u[:, 3]))
        volume_noise, body_normal = _normal_pair(u[:, 4], u[:, 5])
        switch, jump_hit = u[:, 6], u[:, 7]
        # Student t with 4 degrees of freedom (fat tails), scaled to unit variance.
        chi2_4 = -2.0 * np.log1p(-u[:, 8]) - 2.0 * np.log1p(-u[:, 9])
        body = body_normal / np.sqrt(chi2_4 / 4.0) / np.sqrt(2.0)

        turbulent = np.zeros(n, dtype=bool)
        state = False
        for i in range(n):
            state = switch[i] < (0.95 if state else 0.01)  # stay turbulent 95%, enter 1% a day
            turbulent[i] = state
        vol = calm_vol * np.where(turbulent, 2.5, 1.0)

        gaps = 0.25 * vol * gap_noise + np.where(jump_hit < 0.015, 3.0 * vol * jump_size, 0.0)
        moves = drift - 0.5 * vol**2 + 0.85 * vol * body
        log_close = np.log(price0) + np.cumsum(gaps + moves)
        log_open = log_close - moves
        open_, close = np.exp(log_open), np.exp(log_close)
        high = np.maximum(open_, close) * np.exp(0.35 * vol * wick_up)
        low = np.minimum(open_, close) * np.exp(-0.35 * vol * wick_down)
        size = np.abs(gaps + moves) / vol
        volume = np.round(base_volume * np.exp(0.25 * volume_noise) * (0.6 + 0.5 * size))
        return _cents(sessions.tz_localize("UTC"), open_, high, low, close, volume)

    def _intraday(
        self, symbol: str, daily: pd.DataFrame, start: datetime, end: datetime, timeframe: Timeframe
    ) -> pd.DataFrame:
        cal = xnys()
        step = pd.Timedelta(timeframe.duration)
        first_day = pd.Timestamp(start).tz_convert("UTC").normalize()
        days = daily.loc[first_day:]
        parts = []
        for session, bar in days.iterrows():
            day = session.tz_localize(None)
            opens = pd.date_range(cal.session_open(day), cal.session_close(day) - step, freq=step)
            k = len(opens)
            rng = self._rng(symbol, day.toordinal())
            # A Brownian bridge of log price from the session's open to its close.
            steps = rng.normal(size=k)
            walk = np.cumsum(steps)
            t = np.arange(1, k + 1) / k
            span = np.log(bar.close / bar.open)
            sigma = max(np.log(bar.high / bar.low), 1e-4) / (2.5 * np.sqrt(k))
            path = np.log(bar.open) + sigma * (walk - t * walk[-1]) + t * span
            close = np.exp(path)
            open_ = np.concatenate(([bar.open], close[:-1]))
            high = np.maximum(open_, close) * np.exp(sigma * 0.5 * np.abs(rng.normal(size=k)))
            low = np.minimum(open_, close) * np.exp(-sigma * 0.5 * np.abs(rng.normal(size=k)))
            profile = 1.0 + 1.5 * ((np.arange(k) - (k - 1) / 2) / max((k - 1) / 2, 1)) ** 2  # U-shaped day
            volume = np.round(bar.volume * profile / profile.sum())
            parts.append(_cents(opens, open_, high, low, close, volume))
            if day >= pd.Timestamp(end).tz_convert("UTC").tz_localize(None).normalize():
                break
        return pd.concat(parts) if parts else empty_bar_frame()


def _normal_pair(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normal arrays from two uniform arrays (Box-Muller)."""
    radius = np.sqrt(-2.0 * np.log1p(-u1))
    return radius * np.cos(2.0 * np.pi * u2), radius * np.sin(2.0 * np.pi * u2)


def _cents(ts, open_, high, low, close, volume) -> pd.DataFrame:
    """Round prices to cents, keeping high and low consistent with open and close after rounding."""
    o, c = np.round(open_, 2), np.round(close, 2)
    h = np.maximum(np.round(high, 2), np.maximum(o, c))
    low_ = np.minimum(np.round(low, 2), np.minimum(o, c))
    return bar_frame(ts, o, h, low_, c, volume)
