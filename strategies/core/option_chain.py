"""One session's option chain of one underlying, as a strategy, a fill model and a book read it.

A ChainSnapshot wraps the rows of a ChainFrame (marketdata.core.providers.option_chains) that
share one time, with the underlying's price then. It answers: the quote of a contract, the listed
expiries and their days to expiry, the contract of a right and expiry nearest a delta or a strike,
a contract's mark (the mid of a two-sided quote, else the model's price) and the greeks of legs in
money. Greeks a source did not give (historical quotes carry none) are computed by
Black-Scholes-Merton at the quote's implied volatility.
"""

from datetime import date, datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.option_pricing import bsm_greeks, bsm_price, implied_vol
from marketdata.core.options import OptionContract, Right
from strategies.core.options import OptionExposure, OptionLeg

DAYS_PER_YEAR = 365.0


class OptionQuote(NamedTuple):
    """A contract's quote: prices per share; vega per 1.00 of volatility, theta per year (as
    option_pricing gives them); NaN where unknown."""

    contract: OptionContract
    bid: float
    ask: float
    mid: float
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float

    @property
    def two_sided(self) -> bool:
        return self.bid > 0 and self.ask >= self.bid


class ChainSnapshot:
    """The chain of ``underlying`` at ``ts`` with the underlying at ``spot``. ``rate`` and
    ``dividend_yield`` price the model marks and the greeks the source left out."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        spot: float,
        ts: datetime,
        rate: float = 0.04,
        dividend_yield: float = 0.0,
    ) -> None:
        if not (isinstance(spot, int | float) and np.isfinite(spot) and spot > 0):
            raise InvalidInput(f"a chain needs the underlying's price above 0, not {spot!r}")
        if frame["ts"].nunique() > 1:
            raise InvalidInput(f"a chain snapshot is one time; these rows have {frame['ts'].nunique()}")
        underlyings = frame["underlying"].unique()
        if len(underlyings) > 1:
            raise InvalidInput(f"a chain snapshot is one underlying; these rows have {sorted(underlyings)}")
        self.ts = ts
        self.today: date = pd.Timestamp(ts).date()
        self.spot = float(spot)
        self.rate = rate
        self.dividend_yield = dividend_yield
        self._today = np.datetime64(self.today, "ns")
        live = frame[frame["expiry"].to_numpy() >= self._today]
        self.frame = live.set_index("symbol", drop=False)
        self.underlying = str(underlyings[0]) if len(underlyings) else ""
        self._name = self.underlying or "an empty chain"
        self._greeks_filled = False

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.frame.index

    def __len__(self) -> int:
        return len(self.frame)

    # --- quotes ----------------------------------------------------------------------------------

    def quote(self, symbol: str) -> OptionQuote:
        """The quote of an OCC symbol; NotFound when this chain does not list it."""
        self._fill_greeks()
        try:
            row = self.frame.loc[symbol]
        except KeyError:
            raise NotFound(f"{symbol} is not quoted in the chain of {self._name} on {self.today}") from None
        return OptionQuote(
            OptionContract.parse(symbol),
            *(
                float(row[column])
                for column in ("bid", "ask", "mid", "iv", "delta", "gamma", "vega", "theta")
            ),
        )

    def mark(self, symbol: str, *, by: str = "quote") -> float:
        """What one contract is worth per share: by "quote", the mid of a two-sided quote and the
        model's price where the quote is one-sided; by "model", BSM at the quote's implied vol."""
        if by not in ("quote", "model"):
            raise InvalidInput(f"marks are by 'quote' or 'model', not {by!r}")
        quote = self.quote(symbol)
        if by == "quote" and quote.two_sided:
            return quote.mid
        if not np.isfinite(quote.iv):
            if quote.two_sided:
                return quote.mid
            raise InvalidInput(
                f"{symbol} on {self.today} has neither a two-sided quote nor an implied volatility "
                "to mark it by"
            )
        contract = quote.contract
        return float(
            bsm_price(
                contract.right,
                self.spot,
                float(contract.strike),
                self.years(contract.expiry),
                self.rate,
                quote.iv,
                self.dividend_yield,
            )
        )

    def net_mark(self, legs: tuple[OptionLeg, ...] | list[OptionLeg], *, by: str = "quote") -> float:
        """The legs' net value per unit per share (positive: they cost to buy)."""
        return sum(leg.signed_ratio * self.mark(leg.symbol, by=by) for leg in legs)

    def exposure(self, legs: tuple[OptionLeg, ...] | list[OptionLeg], qty: int = 1) -> OptionExposure:
        """The greeks in money of ``qty`` units of the legs (OptionExposure's units)."""
        total = OptionExposure()
        for leg in legs:
            quote = self.quote(leg.symbol)
            contracts = leg.signed_ratio * qty * leg.contract.multiplier
            total += OptionExposure(
                delta=quote.delta * contracts * self.spot,
                vega=quote.vega / 100 * contracts,
                theta=quote.theta / DAYS_PER_YEAR * contracts,
            )
        return total

    # --- expiries and contracts -------------------------------------------------------------------

    def expiries(self) -> list[date]:
        """The listed expiries from today on, in order."""
        return [day.date() for day in pd.DatetimeIndex(np.unique(self.frame["expiry"].to_numpy()))]

    def days_to_expiry(self, expiry: date) -> int:
        return (expiry - self.today).days

    def years(self, expiry: date) -> float:
        return self.days_to_expiry(expiry) / DAYS_PER_YEAR

    def expiry_near(self, days: int, *, at_least: int = 1) -> date:
        """The listed expiry nearest ``days`` calendar days out (the later one on a tie), among
        those at least ``at_least`` days out."""
        choices = [e for e in self.expiries() if self.days_to_expiry(e) >= at_least]
        if not choices:
            raise NotFound(f"no expiry of {self.underlying} at least {at_least} day(s) after {self.today}")
        return min(choices, key=lambda e: (abs(self.days_to_expiry(e) - days), -e.toordinal()))

    def contracts(self, expiry: date, right: Right | str) -> list[OptionContract]:
        """The listed contracts of a right and expiry, by strike."""
        rows = self._rows(expiry, right)
        return [OptionContract.parse(symbol) for symbol in rows.sort_values("strike")["symbol"]]

    def by_delta(self, expiry: date, right: Right | str, delta: float) -> OptionContract:
        """The contract whose absolute delta is nearest ``delta`` (0 < delta < 1; a put's 0.30 is
        its -0.30), the lower strike on a tie."""
        if not 0 < delta < 1:
            raise InvalidInput(f"a target delta is between 0 and 1 (absolute), not {delta!r}")
        self._fill_greeks()
        rows = self._rows(expiry, right)
        gap = (rows["delta"].abs() - delta).abs()
        if gap.isna().all():
            raise NotFound(
                f"no delta is known for the {Right.parse(right)}s of {self.underlying} expiring {expiry}"
            )
        return self._nearest(rows, gap)

    def by_strike(self, expiry: date, right: Right | str, strike: float) -> OptionContract:
        """The listed contract of the strike nearest ``strike`` (the lower on a tie)."""
        rows = self._rows(expiry, right)
        return self._nearest(rows, (rows["strike"] - float(strike)).abs())

    # --- internals --------------------------------------------------------------------------------

    def _rows(self, expiry: date, right: Right | str) -> pd.DataFrame:
        right = Right.parse(right)
        on_expiry = self.frame["expiry"].to_numpy() == np.datetime64(expiry, "ns")
        rows = self.frame[on_expiry & (self.frame["right"] == right.value).to_numpy()]
        if rows.empty:
            raise NotFound(f"no {right}s of {self._name} expiring {expiry} are quoted on {self.today}")
        return rows

    @staticmethod
    def _nearest(rows: pd.DataFrame, gap: pd.Series) -> OptionContract:
        order = np.lexsort((rows["strike"].to_numpy(), gap.fillna(np.inf).to_numpy()))
        return OptionContract.parse(rows["symbol"].iloc[order[0]])

    def _fill_greeks(self) -> None:
        """Implied vols and greeks for the rows the source gave none, from their mids (once)."""
        if self._greeks_filled:
            return
        self._greeks_filled = True
        frame = self.frame
        missing = frame["delta"].isna().to_numpy()
        if not missing.any():
            return
        frame = frame.copy()
        rows = frame[missing]
        call = (rows["right"] == Right.CALL.value).to_numpy()
        strike = rows["strike"].to_numpy()
        t = (rows["expiry"].to_numpy() - self._today) / np.timedelta64(1, "D") / DAYS_PER_YEAR
        iv = rows["iv"].to_numpy(dtype="float64").copy()
        price = rows["mid"].to_numpy(dtype="float64")
        solve = np.isnan(iv) & np.isfinite(price) & (t > 0)
        if solve.any():
            iv[solve] = implied_vol(
                price[solve],
                call[solve],
                self.spot,
                strike[solve],
                t[solve],
                self.rate,
                self.dividend_yield,
                errors="nan",
            )
        greeks = bsm_greeks(call, self.spot, strike, t, self.rate, np.nan_to_num(iv), self.dividend_yield)
        known = np.isfinite(iv)
        frame.loc[missing, "iv"] = iv
        for name in ("delta", "gamma", "vega", "theta"):
            frame.loc[missing, name] = np.where(known, getattr(greeks, name), np.nan)
        self.frame = frame
