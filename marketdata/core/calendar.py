"""The XNYS trading calendar (exchange-calendars), built once per process."""

from datetime import UTC, date, datetime, time
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from marketdata.core.errors import InvalidInput

CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=1)
def xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start=CALENDAR_START)


def sessions_between(start: date, end: date) -> pd.DatetimeIndex:
    """XNYS sessions from start to end inclusive, as naive midnight timestamps."""
    cal = xnys()
    first = max(pd.Timestamp(start), cal.first_session)
    last = min(pd.Timestamp(end), cal.last_session)
    if last < first:
        return pd.DatetimeIndex([])
    return cal.sessions_in_range(first, last)


def last_closed_session(as_of: datetime) -> date:
    """The latest session whose close is at or before as_of (an aware datetime)."""
    cal = xnys()
    ts = pd.Timestamp(as_of).tz_convert("UTC")
    session = cal.minute_to_past_session(ts) if not cal.is_trading_minute(ts) else cal.minute_to_session(ts)
    if cal.session_close(session) > ts:
        session = cal.previous_session(session)
    return session.date()


def parse_day(value: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD command-line value (None stays None); a bad one names its flag."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def day_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """First and last day (inclusive) as UTC times: the start of the first, the end of the last."""
    return (
        None if start is None else datetime.combine(start, time.min, tzinfo=UTC),
        None if end is None else datetime.combine(end, time.max, tzinfo=UTC),
    )
