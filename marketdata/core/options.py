"""Option contracts: the value type, OCC symbols both ways, and the XNYS expiry calendar.

An OCC symbol is the root (the underlying, up to 6 characters), the expiry as YYMMDD, C or P,
and the strike in thousandths of a dollar on 8 digits: AAPL240119C00190000 is the AAPL call
of 2024-01-19 struck at 190. The OCC's own 21-character form pads the root with spaces to 6
characters; both forms parse, and symbols are written in the compact form brokers use.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import numpy as np
import pandas as pd

from marketdata.core.calendar import sessions_between, xnys
from marketdata.core.errors import InvalidInput

OCC_EXAMPLE = "AAPL240119C00190000"
STANDARD_MULTIPLIER = 100
MAX_STRIKE = Decimal("99999.999")  # 8 digits of thousandths
_ROOT = re.compile(r"[A-Z0-9]{1,6}")
_TAIL = 15  # YYMMDD + C/P + 8 strike digits


class Right(StrEnum):
    CALL = "call"
    PUT = "put"

    @classmethod
    def parse(cls, value: "str | Right") -> "Right":
        letters = {"C": cls.CALL, "P": cls.PUT}
        text = str(value).strip()
        right = letters.get(text.upper()) or next((r for r in cls if r.value == text.lower()), None)
        if right is None:
            raise InvalidInput(f"unknown option right {value!r}; use call or put (C or P)")
        return right

    @property
    def letter(self) -> str:
        return "C" if self is Right.CALL else "P"


@dataclass(frozen=True)
class OptionContract:
    """One listed option: ``multiplier`` shares of ``underlying`` at ``strike`` until ``expiry``."""

    underlying: str
    expiry: date
    strike: Decimal
    right: Right
    multiplier: int = STANDARD_MULTIPLIER

    def __post_init__(self) -> None:
        underlying = str(self.underlying).strip().upper()
        if not _ROOT.fullmatch(underlying):
            raise InvalidInput(
                f"option underlying {self.underlying!r} must be 1 to 6 letters or digits (an OCC root)"
            )
        if not isinstance(self.expiry, date) or not 2000 <= self.expiry.year <= 2099:
            raise InvalidInput(
                f"option expiry {self.expiry!r} must be a date in 2000-2099 (OCC writes YYMMDD)"
            )
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int) or self.multiplier < 1:
            raise InvalidInput(f"option multiplier {self.multiplier!r} must be a positive whole number")
        object.__setattr__(self, "underlying", underlying)
        object.__setattr__(self, "expiry", _as_date(self.expiry))
        object.__setattr__(self, "strike", _strike(self.strike))
        object.__setattr__(self, "right", Right.parse(self.right))

    @property
    def symbol(self) -> str:
        """The OCC symbol, compact form (no padding): AAPL240119C00190000."""
        thousandths = int(self.strike * 1000)
        return f"{self.underlying}{self.expiry:%y%m%d}{self.right.letter}{thousandths:08d}"

    @classmethod
    def parse(cls, symbol: str) -> "OptionContract":
        """The contract of an OCC symbol (compact or space-padded); a malformed one says what is wrong."""
        if not isinstance(symbol, str) or not symbol.strip():
            raise InvalidInput(f"empty option symbol; an OCC symbol looks like {OCC_EXAMPLE}")
        text = symbol.strip().upper()
        if len(text) <= _TAIL:
            raise InvalidInput(
                f"option symbol {symbol!r} is too short: an OCC symbol is a root, YYMMDD, C or P and "
                f"an 8-digit strike in thousandths, like {OCC_EXAMPLE}"
            )
        root, expiry, letter, strike = text[:-_TAIL].rstrip(), text[-_TAIL:-9], text[-9], text[-8:]
        if not _ROOT.fullmatch(root):
            raise InvalidInput(
                f"option symbol {symbol!r}: root {root!r} must be 1 to 6 letters or digits "
                "before the YYMMDD expiry"
            )
        try:
            day = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
        except ValueError:
            raise InvalidInput(
                f"option symbol {symbol!r}: expiry {expiry!r} is not a date (YYMMDD)"
            ) from None
        if letter not in "CP":
            raise InvalidInput(f"option symbol {symbol!r}: right {letter!r} must be C (call) or P (put)")
        if not strike.isdigit() or int(strike) == 0:
            raise InvalidInput(
                f"option symbol {symbol!r}: strike {strike!r} must be 8 digits of thousandths of a dollar, "
                "above zero"
            )
        return cls(underlying=root, expiry=day, strike=Decimal(int(strike)) / 1000, right=Right.parse(letter))


_OCC = r"^\s*([A-Z0-9]{1,6})\s*(\d{6})([CP])(\d{8})\s*$"


def occ_symbols(underlying: str, expiry: np.ndarray, thousandths: np.ndarray, call: np.ndarray) -> np.ndarray:
    """The OCC symbols (compact) of arrays of expiries (datetime64), strikes in thousandths and
    rights (True: call), as OptionContract.symbol writes them one by one."""
    root = OptionContract(underlying, date(2000, 1, 1), 1, Right.CALL).underlying  # checked once
    days = pd.DatetimeIndex(expiry).strftime("%y%m%d").to_numpy(dtype=object)
    strikes = pd.Series(np.asarray(thousandths, dtype=np.int64)).map("{:08d}".format).to_numpy(dtype=object)
    if len(strikes) and (int(np.max(thousandths)) > int(MAX_STRIKE * 1000) or int(np.min(thousandths)) <= 0):
        raise InvalidInput(f"option strikes must be above 0 and at most {MAX_STRIKE}")
    letters = np.where(np.asarray(call, dtype=bool), "C", "P").astype(object)
    return root + days + letters + strikes


def occ_terms(symbols: pd.Series) -> pd.DataFrame:
    """The terms of OCC symbols (compact or padded) as columns underlying, expiry (datetime64),
    strike (float64) and right ("call" / "put"), parsed at once; a malformed symbol is refused with
    what OptionContract.parse says of it."""
    text = pd.Series(symbols, dtype="str").str.upper()
    parts = text.str.extract(_OCC)
    expiry = pd.to_datetime("20" + parts[1], format="%Y%m%d", errors="coerce")
    bad = (parts.isna().any(axis=1) | expiry.isna() | (parts[3] == "00000000")).to_numpy()
    if bad.any():
        OptionContract.parse(str(text[bad].iloc[0]))
        raise InvalidInput(f"option symbol {text[bad].iloc[0]!r} is not an OCC symbol")
    return pd.DataFrame(
        {
            "underlying": parts[0].astype("str"),
            "expiry": expiry.astype("datetime64[ns]"),
            "strike": parts[3].astype("int64") / 1000.0,
            "right": pd.Series(np.where(parts[2] == "C", Right.CALL.value, Right.PUT.value), dtype="str"),
        }
    )


def _as_date(value: date) -> date:
    """A datetime (a date subclass) counts by its day."""
    return date(value.year, value.month, value.day)


def _strike(value) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput(f"option strike {value!r} must be a Decimal, int or str: a float is not exact")
    try:
        strike = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(f"option strike {value!r} is not a number") from None
    if not strike.is_finite() or strike <= 0:
        raise InvalidInput(f"option strike {value!r} must be positive")
    if strike > MAX_STRIKE:
        raise InvalidInput(f"option strike {value!r} is above {MAX_STRIKE}, the largest an OCC symbol holds")
    if strike != strike.quantize(Decimal("0.001")):
        raise InvalidInput(
            f"option strike {value!r} has more than 3 decimals: OCC strikes are in thousandths"
        )
    return strike.quantize(Decimal(1)) if strike == strike.to_integral_value() else strike.normalize()


def weekly_expiries(start: date, end: date) -> list[date]:
    """The weekly expiries from start to end inclusive: the last XNYS session of each week,
    which is the Friday, or the session before it in the same week when the Friday is a holiday.
    A week without a session has no expiry."""
    monday = start - timedelta(days=start.weekday())
    sunday = end + timedelta(days=6 - end.weekday())
    last = xnys().last_session.date()
    if sunday > last:
        raise InvalidInput(f"the XNYS calendar ends on {last}: expiries up to {end} are not known yet")
    sessions = pd.Series(sessions_between(monday, sunday))
    if sessions.empty:
        return []
    weeks = sessions.dt.to_period("W-SUN")
    days = [ts.date() for ts in sessions.groupby(weeks).max()]
    return [day for day in days if start <= day <= end]


def is_monthly_expiry(day: date) -> bool:
    """Whether a weekly expiry is also the standard monthly one: it falls in the week of the
    month's third Friday (the 15th to the 21st)."""
    friday = day + timedelta(days=4 - day.weekday())
    return 15 <= friday.day <= 21


def monthly_expiries(start: date, end: date) -> list[date]:
    """The standard monthly expiries from start to end inclusive: each month's third Friday, or
    the session before it when that Friday is a holiday."""
    return [day for day in weekly_expiries(start, end) if is_monthly_expiry(day)]
