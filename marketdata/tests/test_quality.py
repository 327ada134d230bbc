"""check_bars on hand-built RawBars: the row rules with their exact reasons, and the series issues."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from marketdata.core.bars import BAR_COLUMNS, RawBars, RejectedRow, Timeframe
from marketdata.core.quality import Issue, check_bars

NAN = float("nan")
INF = float("inf")
GOOD = (10.0, 11.0, 9.0, 10.5, 100.0)  # open, high, low, close, volume


def raw(bars, *, timeframe=Timeframe.D1, rejected=(), rows=None) -> RawBars:
    """RawBars from (ts, open, high, low, close, volume) tuples; file lines 2, 3, ... unless given."""
    frame = pd.DataFrame(list(bars), columns=["ts", *BAR_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame.astype(dict.fromkeys(BAR_COLUMNS, "float64"))
    frame["row"] = np.arange(2, 2 + len(frame)) if rows is None else np.asarray(rows)
    return RawBars("AAA", timeframe, frame, list(rejected))


def daily(days, bar=GOOD) -> RawBars:
    return raw([(d, *bar) for d in days])


def utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


# --- row rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar", "reason"),
    [
        ((10.0, 11.0, 9.0, NAN, 100.0), "close is NaN"),
        ((NAN, 11.0, 9.0, 10.5, 100.0), "open is NaN"),
        ((10.0, 11.0, 9.0, 10.5, NAN), "volume is NaN"),
        ((INF, 11.0, 9.0, 10.5, 100.0), "open is infinite"),
        ((10.0, 11.0, 9.0, 10.5, -INF), "volume is infinite"),
        ((0.0, 11.0, 0.0, 10.5, 100.0), "open is not positive (0); low is not positive (0)"),
        ((10.0, 11.0, -2.0, 10.5, 100.0), "low is not positive (-2)"),
        ((10.0, 11.0, 9.0, 10.5, -1.0), "volume is negative (-1)"),
        ((10.0, 8.0, 9.0, 8.5, 100.0), "high 8 is below low 9"),
        ((10.0, 10.2, 9.0, 10.5, 100.0), "high 10.2 is below open/close 10.5"),
        ((10.0, 11.0, 10.2, 10.5, 100.0), "low 10.2 is above open/close 10"),
        ((10.0, 11.0, 9.0, 10.5, 0.123456789), "volume 0.123456789 has more than 8 decimal places"),
    ],
    ids=[
        "nan-close",
        "nan-open",
        "nan-volume",
        "infinite-open",
        "infinite-volume",
        "zero-price",
        "negative-low",
        "negative-volume",
        "high-below-low",
        "high-below-close",
        "low-above-open",
        "too-precise-volume",
    ],
)
def test_row_rule_rejects_with_exact_reason(bar, reason):
    # given a good bar before the bad one
    bars = raw([("2024-01-02", *GOOD), ("2024-01-03", *bar)])

    # when
    result = check_bars(bars)

    # then only the bad one is rejected, with its reason
    assert result.rejected == [RejectedRow(row=3, ts="2024-01-03T00:00:00+00:00", reason=reason)]
    assert list(result.bars.index) == [utc("2024-01-02")]


def test_too_precise_price_reason_shows_the_plain_number():
    # given an open with 9 decimal places
    bars = raw([("2024-01-02", 10.123456789, 11.0, 9.0, 10.5, 100.0)])

    # when
    result = check_bars(bars)

    # then the reason shows the number as written, not a numpy repr
    assert result.rejected == [
        RejectedRow(
            row=2,
            ts="2024-01-02T00:00:00+00:00",
            reason="open 10.123456789 has more than 8 decimal places",
        )
    ]


def test_eight_decimal_places_and_zero_volume_are_fine():
    bars = raw([("2024-01-02", 10.12345678, 11.0, 9.0, 10.5, 0.0)])

    result = check_bars(bars)

    assert result.rejected == []
    assert result.bars["open"].tolist() == [10.12345678]


def test_missing_timestamp_is_rejected_with_empty_ts():
    bars = raw([(None, *GOOD), ("2024-01-03", *GOOD)])

    result = check_bars(bars)

    assert result.rejected == [RejectedRow(row=2, ts="", reason="timestamp is missing")]
    assert list(result.bars.index) == [utc("2024-01-03")]


def test_several_reasons_on_one_row_are_joined():
    # given a bar with no time, a negative volume and a high below its close
    bars = raw([(None, 10.0, 10.2, 9.0, 10.5, -3.0)])

    # when
    result = check_bars(bars)

    # then every reason, in rule order, joined with "; "
    assert result.rejected == [
        RejectedRow(
            row=2,
            ts="",
            reason="timestamp is missing; volume is negative (-3); high 10.2 is below open/close 10.5",
        )
    ]


def test_identical_duplicates_keep_the_first():
    bars = daily(["2024-01-02", "2024-01-02", "2024-01-02", "2024-01-03"])

    result = check_bars(bars)

    assert result.rejected == [
        RejectedRow(row=3, ts="2024-01-02T00:00:00+00:00", reason="duplicate of row 2"),
        RejectedRow(row=4, ts="2024-01-02T00:00:00+00:00", reason="duplicate of row 2"),
    ]
    assert list(result.bars.index) == [utc("2024-01-02"), utc("2024-01-03")]


def test_rows_checked_counts_parse_rejected_rows_and_rejections_are_sorted_by_row():
    # given 3 parsed rows on lines 2, 4, 5 (line 5 bad) and 2 rows the reader could not parse
    parse_rejected = [
        RejectedRow(row=None, ts="", reason="unplaced"),
        RejectedRow(row=3, ts="2024-01-03", reason="close is not a number: 'abc'"),
    ]
    bars = raw(
        [("2024-01-02", *GOOD), ("2024-01-04", *GOOD), ("2024-01-05", 10.0, 11.0, 9.0, NAN, 100.0)],
        rejected=parse_rejected,
        rows=[2, 4, 5],
    )

    # when
    result = check_bars(bars)

    # then
    assert result.rows_checked == 5
    assert result.rejected == [
        RejectedRow(row=3, ts="2024-01-03", reason="close is not a number: 'abc'"),
        RejectedRow(row=5, ts="2024-01-05T00:00:00+00:00", reason="close is NaN"),
        RejectedRow(row=None, ts="", reason="unplaced"),
    ]
    assert len(result.bars) == 2


def test_valid_bars_come_out_sorted_unique_and_typed():
    # given rows out of order with an identical duplicate
    bars = raw(
        [
            ("2024-01-04", 12.0, 13.0, 11.0, 12.5, 300.0),
            ("2024-01-02", *GOOD),
            ("2024-01-03", 11.0, 12.0, 10.0, 11.5, 200.0),
            ("2024-01-02", *GOOD),
        ]
    )

    # when
    result = check_bars(bars)

    # then
    expected = pd.DataFrame(
        {
            "open": [10.0, 11.0, 12.0],
            "high": [11.0, 12.0, 13.0],
            "low": [9.0, 10.0, 11.0],
            "close": [10.5, 11.5, 12.5],
            "volume": [100.0, 200.0, 300.0],
        },
        index=pd.DatetimeIndex([utc("2024-01-02"), utc("2024-01-03"), utc("2024-01-04")], name="ts").as_unit(
            result.bars.index.unit
        ),
    )
    pd.testing.assert_frame_equal(result.bars, expected)
    assert result.bars.index.is_unique
    assert result.rejected == [
        RejectedRow(row=5, ts="2024-01-02T00:00:00+00:00", reason="duplicate of row 3")
    ]
    assert result.issues == [
        Issue("unsorted", "2 row(s) out of time order (first at row 3); loaded sorted", 2, ["row 3", "row 5"])
    ]


def test_as_report():
    bars = raw([("2024-01-02", *GOOD), ("2024-01-03", 10.0, 11.0, 9.0, 10.5, -1.0)])

    report = check_bars(bars).as_report()

    assert report == {
        "symbol": "AAA",
        "timeframe": "1d",
        "rows_checked": 2,
        "rows_valid": 1,
        "rows_rejected": 1,
        "rejected": [{"row": 3, "ts": "2024-01-03T00:00:00+00:00", "reason": "volume is negative (-1)"}],
        "issues": [],
    }


# --- calendar ----------------------------------------------------------------------------------


def test_missing_xnys_session_is_an_issue():
    # given 2024-01-02..2024-01-08 without 2024-01-03
    bars = daily(["2024-01-02", "2024-01-04", "2024-01-05", "2024-01-08"])

    result = check_bars(bars, exchange_calendar=True)

    assert result.issues == [Issue("missing_sessions", "1 XNYS session(s) with no 1d bar", 1, ["2024-01-03"])]
    assert result.rejected == []
    assert len(result.bars) == 4


def test_missing_sessions_show_at_most_five_examples():
    # given 2024-01-02 and 2024-01-12 only: 01-03..01-11 (7 sessions) are missing
    bars = daily(["2024-01-02", "2024-01-12"])

    result = check_bars(bars, exchange_calendar=True)

    assert result.issues == [
        Issue(
            "missing_sessions",
            "7 XNYS session(s) with no 1d bar",
            7,
            ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"],
        )
    ]


def test_missing_session_of_intraday_bars():
    bars = raw(
        [("2024-01-02 14:30", *GOOD), ("2024-01-02 14:35", *GOOD), ("2024-01-04 14:30", *GOOD)],
        timeframe=Timeframe.M5,
    )

    result = check_bars(bars, exchange_calendar=True)

    assert result.issues == [Issue("missing_sessions", "1 XNYS session(s) with no 5m bar", 1, ["2024-01-03"])]


def test_saturday_bar_is_off_calendar():
    bars = daily(["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-08"])

    result = check_bars(bars, exchange_calendar=True)

    assert result.issues == [
        Issue("off_calendar", "1 day(s) with bars that are not XNYS sessions", 1, ["2024-01-06"])
    ]
    assert len(result.bars) == 4


def test_holiday_bar_is_off_calendar():
    bars = daily(["2024-07-03", "2024-07-04", "2024-07-05"])

    result = check_bars(bars, exchange_calendar=True)

    assert result.issues == [
        Issue("off_calendar", "1 day(s) with bars that are not XNYS sessions", 1, ["2024-07-04"])
    ]


def test_no_calendar_issues_unless_asked():
    bars = daily(["2024-01-02", "2024-01-06", "2024-01-08"])

    result = check_bars(bars)

    assert result.issues == []


# --- stale -------------------------------------------------------------------------------------


def test_stale_when_the_last_closed_session_is_missing():
    # given bars through Thursday 2024-01-04, checked Friday 2024-01-05 after the close
    bars = daily(["2024-01-02", "2024-01-03", "2024-01-04"])

    result = check_bars(bars, as_of=datetime(2024, 1, 5, 22, 0, tzinfo=UTC))

    assert result.issues == [
        Issue(
            "stale",
            "last bar is on 2024-01-04, older than the last closed session 2024-01-05",
            1,
            ["2024-01-04"],
        )
    ]


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2024, 1, 5, 15, 0, tzinfo=UTC),  # Friday, session still open
        datetime(2024, 1, 5, 20, 59, tzinfo=UTC),  # Friday, one minute before the close
    ],
)
def test_not_stale_while_the_session_is_open(as_of):
    bars = daily(["2024-01-02", "2024-01-03", "2024-01-04"])

    result = check_bars(bars, as_of=as_of)

    assert result.issues == []


def test_not_stale_over_the_weekend():
    # given bars through Friday, checked Monday before the open
    bars = daily(["2024-01-04", "2024-01-05"])

    result = check_bars(bars, as_of=datetime(2024, 1, 8, 12, 0, tzinfo=UTC))

    assert result.issues == []


def test_stale_with_no_bars():
    result = check_bars(daily([]), as_of=datetime(2024, 1, 6, 12, 0, tzinfo=UTC))

    assert result.issues == [Issue("stale", "no bars; the last closed session is 2024-01-05", 1, [])]


# --- split-like jumps --------------------------------------------------------------------------


def test_two_for_one_split_jump_is_flagged():
    bars = raw(
        [("2024-01-02", 100.0, 101.0, 99.0, 100.0, 1000.0), ("2024-01-03", 50.0, 51.0, 49.0, 50.5, 2000.0)]
    )

    result = check_bars(bars)

    assert result.issues == [
        Issue(
            "split_jump",
            "1 jump(s) that look like an unadjusted split",
            1,
            ["2024-01-03 00:00: 100.00 -> 50.00 (x0.500, looks like an unadjusted 2:1 split)"],
        )
    ]
    assert result.rejected == []


def test_reverse_split_jump_is_flagged():
    bars = raw(
        [("2024-01-02", 10.0, 10.5, 9.5, 10.0, 1000.0), ("2024-01-03", 100.0, 101.0, 99.0, 100.0, 100.0)]
    )

    result = check_bars(bars)

    assert result.issues == [
        Issue(
            "split_jump",
            "1 jump(s) that look like an unadjusted split",
            1,
            ["2024-01-03 00:00: 10.00 -> 100.00 (x10.000, looks like an unadjusted 1:10 reverse split)"],
        )
    ]


def test_split_jump_across_the_previous_close():
    # given one new bar that opens at a third of the stored close before it
    bars = raw([("2024-01-03", 50.0, 51.0, 49.0, 50.5, 2000.0)])

    with_previous = check_bars(bars, previous_close=150.0)
    without_previous = check_bars(bars)

    assert with_previous.issues == [
        Issue(
            "split_jump",
            "1 jump(s) that look like an unadjusted split",
            1,
            ["2024-01-03 00:00: 150.00 -> 50.00 (x0.333, looks like an unadjusted 3:1 split)"],
        )
    ]
    assert without_previous.issues == []


def test_normal_five_percent_move_is_not_flagged():
    bars = raw(
        [
            ("2024-01-02", 100.0, 101.0, 99.0, 100.0, 1000.0),
            ("2024-01-03", 105.0, 106.0, 104.0, 105.0, 1000.0),
            ("2024-01-04", 99.75, 100.0, 99.0, 99.5, 1000.0),
        ]
    )

    result = check_bars(bars, previous_close=95.0)

    assert result.issues == []


def test_a_value_with_more_significant_digits_than_storage_keeps_is_rejected():
    # given a volume of 15 significant digits: float64 cannot carry it exactly to the database
    raw = RawBars(
        "X",
        Timeframe.D1,
        pd.DataFrame(
            {
                "ts": pd.to_datetime(["2024-01-02", "2024-01-03"], utc=True),
                "open": [10.0, 10.0],
                "high": [11.0, 11.0],
                "low": [9.0, 9.0],
                "close": [10.5, 10.5],
                "volume": [12345678901.2345, 98765432109.0],
                "row": [2, 3],
            }
        ),
    )

    # when
    result = check_bars(raw)

    # then
    assert [r.reason for r in result.rejected] == [
        "volume 12345678901.2345 has more than 14 significant digits"
    ]
    assert result.bars["volume"].tolist() == [98765432109.0]
