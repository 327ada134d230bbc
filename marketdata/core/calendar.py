"""The XNYS trading calendar (exchange-calendars), built once per process."""

from datetime import date, datetime
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

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
