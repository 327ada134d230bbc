"""CSVProvider: layouts it reads, bad input it rejects (with the file line), and get_bars on top of it.

Row numbers are file lines: the header is line 1, the first data row is line 2.
"""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from marketdata.core.bars import RejectedRow, Timeframe
from marketdata.core.errors import DataFormatError, InvalidInput
from marketdata.core.providers.csv import CSVProvider
from marketdata.core.quality import Issue, check_bars

HEADER = "Date,Open,High,Low,Close,Volume\n"
ROW_0102 = "2024-01-02,10,11,9,10.5,100\n"
ROW_0103 = "2024-01-03,10.5,11.5,10,11,200\n"
ROW_0104 = "2024-01-04,11,12,10.5,11.5,300\n"
ROW_0105 = "2024-01-05,11.5,12.5,11,12,400\n"

CLEAN = [
    (2, "2024-01-02T00:00:00+00:00", 10.0, 11.0, 9.0, 10.5, 100.0),
    (3, "2024-01-03T00:00:00+00:00", 10.5, 11.5, 10.0, 11.0, 200.0),
    (4, "2024-01-04T00:00:00+00:00", 11.0, 12.0, 10.5, 11.5, 300.0),
]


def write(tmp_path, content, name="bars.csv"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def read(path, **kwargs):
    return CSVProvider(path, **kwargs).read("GOOG", Timeframe.D1)


def loaded(raw) -> list[tuple]:
    """The rows a read kept: (line, UTC time, open, high, low, close, volume)."""
    f = raw.frame
    return [
        (int(r.row), r.ts.isoformat(), r.open, r.high, r.low, r.close, r.volume)
        for r in f.itertuples(index=False)
    ]


def day(d: int) -> datetime:
    return datetime(2024, 1, d, tzinfo=UTC)


# --- bad input ---------------------------------------------------------------------------------


def test_missing_column_is_a_format_error_naming_it(tmp_path):
    # given a file without a Close column
    path = write(tmp_path, "Date,Open,High,Low,Volume\n2024-01-02,10,11,9,100\n")

    # when / then
    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == f"{path}: missing column(s) close; found Date, Open, High, Low, Volume"
    assert exc.value.code == "data_format"


def test_non_numeric_price_rejects_that_row_and_loads_the_others(tmp_path):
    # given a file whose second data row has close "abc"
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-03,10.5,11.5,10,abc,200\n" + ROW_0104)

    # when
    raw = read(path)

    # then
    assert raw.rejected == [RejectedRow(row=3, ts="2024-01-03", reason="close is not a number: 'abc'")]
    assert loaded(raw) == [CLEAN[0], CLEAN[2]]


def test_blank_price_cell_rejects_that_row(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-03,10.5,11.5,10,,200\n")

    raw = read(path)

    assert raw.rejected == [RejectedRow(row=3, ts="2024-01-03", reason="close is missing")]
    assert loaded(raw) == [CLEAN[0]]


def test_nan_price_is_rejected_by_the_check(tmp_path):
    # given a file with a literal NaN close
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-03,10.5,11.5,10,NaN,200\n")

    # when
    result = check_bars(read(path))

    # then
    assert result.rejected == [RejectedRow(row=3, ts="2024-01-03T00:00:00+00:00", reason="close is NaN")]
    assert list(result.bars.index) == [pd.Timestamp("2024-01-02", tz="UTC")]


def test_negative_volume_is_rejected(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-03,10.5,11.5,10,11,-5\n")

    result = check_bars(read(path))

    assert result.rejected == [
        RejectedRow(row=3, ts="2024-01-03T00:00:00+00:00", reason="volume is negative (-5)")
    ]
    assert result.bars["volume"].tolist() == [100.0]


def test_high_below_low_is_rejected(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-03,10.5,8,10,11,200\n")

    result = check_bars(read(path))

    assert result.rejected == [
        RejectedRow(row=3, ts="2024-01-03T00:00:00+00:00", reason="high 8 is below low 10")
    ]


def test_identical_duplicate_rejects_the_second(tmp_path):
    # given the 2024-01-02 row twice, byte for byte
    path = write(tmp_path, HEADER + ROW_0102 + ROW_0102 + ROW_0103)

    # when
    result = check_bars(read(path))

    # then the first copy loads, the second is named as its duplicate
    assert result.rejected == [
        RejectedRow(row=3, ts="2024-01-02T00:00:00+00:00", reason="duplicate of row 2")
    ]
    assert result.bars["close"].tolist() == [10.5, 11.0]
    assert result.rows_checked == 3


def test_conflicting_duplicate_rejects_both(tmp_path):
    # given two different bars for 2024-01-02
    path = write(tmp_path, HEADER + ROW_0102 + "2024-01-02,10,11,9,10.6,100\n" + ROW_0103)

    # when
    result = check_bars(read(path))

    # then neither can be trusted
    reason = "conflicting duplicate timestamp (rows 2, 3)"
    assert result.rejected == [
        RejectedRow(row=2, ts="2024-01-02T00:00:00+00:00", reason=reason),
        RejectedRow(row=3, ts="2024-01-02T00:00:00+00:00", reason=reason),
    ]
    assert list(result.bars.index) == [pd.Timestamp("2024-01-03", tz="UTC")]


def test_out_of_order_rows_load_sorted_with_an_unsorted_issue(tmp_path):
    # given 01-02, 01-04, 01-03
    path = write(tmp_path, HEADER + ROW_0102 + ROW_0104 + ROW_0103)

    # when
    result = check_bars(read(path))

    # then
    assert result.rejected == []
    assert result.issues == [
        Issue("unsorted", "1 row(s) out of time order (first at row 4); loaded sorted", 1, ["row 4"])
    ]
    assert list(result.bars.index) == [pd.Timestamp(f"2024-01-0{d}", tz="UTC") for d in (2, 3, 4)]
    assert result.bars["close"].tolist() == [10.5, 11.0, 11.5]


def test_empty_file_is_a_format_error(tmp_path):
    path = write(tmp_path, "")

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == f"{path}: the file is empty"


def test_header_only_file_is_a_format_error(tmp_path):
    path = write(tmp_path, HEADER)

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == f"{path}: the file has a header but no rows"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00",
        bytes([0x13, 0x00, 0xFE, 0x7A, 0x00, 0x41, 0x99, 0x00]) * 64,
    ],
    ids=["png-header", "bytes-with-nul"],
)
def test_binary_file_is_a_format_error(tmp_path, content):
    path = write(tmp_path, content, name="bars.csv")

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == f"{path}: not a CSV or Parquet file"


def test_bytes_that_are_not_utf8_are_a_format_error(tmp_path):
    # given bytes with no NUL that do not decode as UTF-8
    path = write(tmp_path, bytes([0xC8, 0x0D, 0xFF, 0x01, 0x07, 0xFA, 0x80]) * 50)

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == (
        f"{path}: not a CSV or Parquet file "
        "('utf-8' codec can't decode byte 0xc8 in position 0: invalid continuation byte)"
    )


def test_utf8_file_with_a_multibyte_character_across_byte_4096_is_read(tmp_path):
    # given a valid UTF-8 file with a Name column whose "é" straddles byte 4096 (the sniffed head)
    for pad in range(40):
        text = (
            f"Date,Open,High,Low,Close,Volume,Name{'x' * pad}\n"
            + "2024-01-02,10,11,9,10.5,100,Société\n" * 120
        )
        data = text.encode()
        if data[4095:4097] == "é".encode():
            break
    assert data[4095:4097] == b"\xc3\xa9"
    path = write(tmp_path, data)

    # when
    raw = read(path)

    # then all 120 rows are read (the reader keeps duplicates; the check drops them)
    assert len(raw.frame) == 120
    assert raw.rejected == []


def test_missing_file_is_a_format_error(tmp_path):
    path = tmp_path / "nope.csv"

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == f"{path}: no such file"


def test_unparseable_timestamp_rejects_that_row(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102 + "not a date,10.5,11.5,10,11,200\n" + ROW_0104)

    raw = read(path)

    assert raw.rejected == [
        RejectedRow(row=3, ts="not a date", reason="timestamp 'not a date' is not a time")
    ]
    assert loaded(raw) == [CLEAN[0], CLEAN[2]]


def test_unparseable_timestamp_in_an_epoch_file_rejects_only_that_row(tmp_path):
    # given epoch-second times with one cell that is not a time
    path = write(
        tmp_path,
        "timestamp,open,high,low,close,volume\n1704153600,10,11,9,10.5,100\nabc,10.5,11.5,10,11,200\n",
    )

    # when
    raw = read(path)

    # then the good row still loads
    assert raw.rejected == [RejectedRow(row=3, ts="abc", reason="timestamp 'abc' is not a time")]
    assert loaded(raw) == [CLEAN[0]]


def test_naive_time_that_does_not_exist_in_the_timezone_is_rejected(tmp_path):
    # given 02:30 on the spring-forward day in New York
    path = write(tmp_path, HEADER + "2024-03-10 02:30,10,11,9,10.5,100\n2024-03-11 09:30,10,11,9,10.5,100\n")

    raw = read(path, timezone="America/New_York")

    assert raw.rejected == [
        RejectedRow(row=2, ts="2024-03-10 02:30", reason="timestamp '2024-03-10 02:30' is not a time")
    ]
    assert loaded(raw) == [(3, "2024-03-11T13:30:00+00:00", 10.0, 11.0, 9.0, 10.5, 100.0)]


# --- layouts -----------------------------------------------------------------------------------


def test_time_in_first_unnamed_column_like_backtesting_goog_csv(tmp_path):
    # given backtesting.py's GOOG.csv layout
    path = write(
        tmp_path,
        ",Open,High,Low,Close,Volume\n"
        "2004-08-19,100.0,104.06,95.96,100.34,22351900\n"
        "2004-08-20,101.01,109.08,100.5,108.31,11428600\n",
    )

    raw = read(path)

    assert raw.rejected == []
    assert loaded(raw) == [
        (2, "2004-08-19T00:00:00+00:00", 100.0, 104.06, 95.96, 100.34, 22351900.0),
        (3, "2004-08-20T00:00:00+00:00", 101.01, 109.08, 100.5, 108.31, 11428600.0),
    ]


@pytest.mark.parametrize("name", ["Date", "datetime", "timestamp", "time", "ts", "DATE"])
def test_time_column_is_found_by_name_anywhere(tmp_path, name):
    # given the time column last, so only its name can find it
    path = write(
        tmp_path,
        f"Open,High,Low,Close,Volume,{name}\n10,11,9,10.5,100,2024-01-02\n10.5,11.5,10,11,200,2024-01-03\n",
    )

    raw = read(path)

    assert loaded(raw) == CLEAN[:2]


def test_no_time_column_is_a_format_error(tmp_path):
    path = write(tmp_path, "Open,High,Low,Close,Volume,When\n10,11,9,10.5,100,2024-01-02\n")

    with pytest.raises(DataFormatError) as exc:
        read(path)
    assert exc.value.message == (
        f"{path}: no time column (first column or one named date, datetime, timestamp, time, ts)"
    )


@pytest.mark.parametrize(
    "header",
    [
        "date,open,high,low,close,volume",
        "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME",
        "Date,oPeN,HIGH,low,Close,VoLuMe",
        "Date, Open, High, Low, Close, Volume",
    ],
    ids=["lower", "upper", "mixed", "spaces"],
)
def test_column_names_in_any_letter_case(tmp_path, header):
    path = write(tmp_path, header + "\n" + ROW_0102 + ROW_0103 + ROW_0104)

    raw = read(path)

    assert loaded(raw) == CLEAN


def test_adj_close_with_adjust_scales_prices_and_volume(tmp_path):
    # given a 2:1 adjustment (adj close is half the close)
    path = write(tmp_path, "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,100,110,90,100,50,1000\n")

    raw = read(path, adjust=True)

    # then prices halve and volume doubles
    assert loaded(raw) == [(2, "2024-01-02T00:00:00+00:00", 50.0, 55.0, 45.0, 50.0, 2000.0)]


def test_adj_close_without_adjust_is_ignored(tmp_path):
    path = write(tmp_path, "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,100,110,90,100,50,1000\n")

    raw = read(path)

    assert loaded(raw) == [(2, "2024-01-02T00:00:00+00:00", 100.0, 110.0, 90.0, 100.0, 1000.0)]


@pytest.mark.parametrize(
    ("first", "second"),
    [("1704153600", "1704240000"), ("1704153600000", "1704240000000")],
    ids=["epoch-seconds", "epoch-ms"],
)
def test_epoch_timestamps(tmp_path, first, second):
    path = write(
        tmp_path,
        f"timestamp,open,high,low,close,volume\n{first},10,11,9,10.5,100\n{second},10.5,11.5,10,11,200\n",
    )

    raw = read(path, timezone="America/New_York")  # epoch times are UTC whatever the timezone

    assert loaded(raw) == CLEAN[:2]


def test_naive_times_in_new_york_are_converted_to_utc(tmp_path):
    # given the 09:30 open in winter (EST, UTC-5) and summer (EDT, UTC-4)
    path = write(
        tmp_path, HEADER + "2024-01-02 09:30,10,11,9,10.5,100\n2024-07-01 09:30,10.5,11.5,10,11,200\n"
    )

    raw = read(path, timezone="America/New_York")

    assert [r[1] for r in loaded(raw)] == ["2024-01-02T14:30:00+00:00", "2024-07-01T13:30:00+00:00"]


def test_naive_times_are_utc_by_default(tmp_path):
    path = write(tmp_path, HEADER + "2024-01-02 09:30,10,11,9,10.5,100\n")

    raw = read(path)

    assert [r[1] for r in loaded(raw)] == ["2024-01-02T09:30:00+00:00"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            ("2024-01-02T09:30:00-05:00", "2024-07-01T09:30:00-04:00"),
            ["2024-01-02T14:30:00+00:00", "2024-07-01T13:30:00+00:00"],
        ),
        (
            ("2024-01-02T09:30:00+01:00", "2024-01-03T09:30:00+01:00"),
            ["2024-01-02T08:30:00+00:00", "2024-01-03T08:30:00+00:00"],
        ),
    ],
    ids=["offsets-differ", "same-offset"],
)
def test_times_with_explicit_offsets(tmp_path, cells, expected):
    path = write(
        tmp_path,
        f"time,open,high,low,close,volume\n{cells[0]},10,11,9,10.5,100\n{cells[1]},10,11,9,10.5,100\n",
    )

    raw = read(path, timezone="America/New_York")  # the offset wins over the timezone

    assert [r[1] for r in loaded(raw)] == expected


@pytest.mark.parametrize("index", [True, False], ids=["time-as-index", "time-as-column"])
def test_parquet_file_reads_the_same_as_the_csv(tmp_path, index):
    # given the same bars as CSV and as Parquet
    csv_path = write(tmp_path, HEADER + ROW_0102 + ROW_0103 + ROW_0104)
    frame = pd.read_csv(csv_path, parse_dates=["Date"])
    parquet_path = tmp_path / "bars.parquet"
    if index:
        frame.set_index("Date").to_parquet(parquet_path)
    else:
        frame.to_parquet(parquet_path, index=False)

    # when
    from_csv = read(csv_path)
    from_parquet = read(parquet_path)

    # then the bars are equal; a Parquet row is its position (no header line)
    pd.testing.assert_frame_equal(from_parquet.frame.drop(columns="row"), from_csv.frame.drop(columns="row"))
    assert from_parquet.frame["row"].tolist() == [1, 2, 3]
    assert from_parquet.rejected == []


def test_parquet_with_a_nan_close_is_rejected_by_the_check(tmp_path):
    path = tmp_path / "bars.parquet"
    pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-01-02", "2024-01-03"], utc=True),
            "open": [10.0, 10.5],
            "high": [11.0, 11.5],
            "low": [9.0, 10.0],
            "close": [10.5, np.nan],
            "volume": [100, 200],
        }
    ).to_parquet(path, index=False)

    result = check_bars(read(path))

    assert result.rejected == [RejectedRow(row=2, ts="2024-01-03T00:00:00+00:00", reason="close is NaN")]
    assert result.bars["close"].tolist() == [10.5]


# --- fetch_bars / get_bars ---------------------------------------------------------------------


def test_fetch_bars_keeps_only_the_range_inclusive(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102 + ROW_0103 + ROW_0104 + ROW_0105)

    raw = CSVProvider(path).fetch_bars("GOOG", day(3), day(4), Timeframe.D1)

    assert loaded(raw) == CLEAN[1:]
    assert raw.symbol == "GOOG"
    assert raw.timeframe is Timeframe.D1


def test_fetch_bars_with_naive_range_is_invalid(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102)

    with pytest.raises(InvalidInput) as exc:
        CSVProvider(path).fetch_bars("GOOG", datetime(2024, 1, 2), datetime(2024, 1, 3), Timeframe.D1)
    assert exc.value.message == "start and end must be timezone-aware"


def test_fetch_bars_with_end_before_start_is_invalid(tmp_path):
    path = write(tmp_path, HEADER + ROW_0102)

    with pytest.raises(InvalidInput) as exc:
        CSVProvider(path).fetch_bars("GOOG", day(4), day(2), Timeframe.D1)
    assert exc.value.message == "end 2024-01-02 is before start 2024-01-04"


def test_get_bars_raises_naming_the_first_bad_row(tmp_path):
    # given a file with a non-numeric close on line 4 and a negative close on line 5
    path = write(
        tmp_path,
        HEADER
        + ROW_0102
        + ROW_0103
        + "2024-01-04,11,12,10.5,abc,300\n"
        + "2024-01-05,11.5,12.5,11,-12,400\n",
    )

    # when / then
    with pytest.raises(InvalidInput) as exc:
        CSVProvider(path).get_bars("GOOG", day(1), day(31), Timeframe.D1)
    assert exc.value.message == (
        "2 bad bar(s) in GOOG 1d: row 4: close is not a number: 'abc'; "
        "row 5: close is not positive (-12); low 11 is above open/close -12"
    )
    assert exc.value.details == {
        "rejected": [
            {"row": 4, "ts": "2024-01-04", "reason": "close is not a number: 'abc'"},
            {
                "row": 5,
                "ts": "2024-01-05T00:00:00+00:00",
                "reason": "close is not positive (-12); low 11 is above open/close -12",
            },
        ]
    }


def test_get_bars_ignores_a_bad_row_outside_the_range(tmp_path):
    # given a clean 01-02..01-04 and a non-numeric close on 01-05
    path = write(tmp_path, HEADER + ROW_0102 + ROW_0103 + ROW_0104 + "2024-01-05,11.5,12.5,11,abc,400\n")

    # when asking for 01-02..01-04 only
    bars = CSVProvider(path).get_bars("GOOG", day(2), day(4), Timeframe.D1)

    # then the bad row, being outside the range, does not fail the request
    assert bars["close"].tolist() == [10.5, 11.0, 11.5]


def test_get_bars_returns_the_clean_bar_frame(tmp_path):
    # given a clean file, out of order
    path = write(tmp_path, HEADER + ROW_0104 + ROW_0102 + ROW_0103)

    # when
    bars = CSVProvider(path).get_bars("GOOG", day(1), day(31), Timeframe.D1)

    # then
    expected = pd.DataFrame(
        {
            "open": [10.0, 10.5, 11.0],
            "high": [11.0, 11.5, 12.0],
            "low": [9.0, 10.0, 10.5],
            "close": [10.5, 11.0, 11.5],
            "volume": [100.0, 200.0, 300.0],
        },
        index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], tz="UTC", name="ts"),
    )
    pd.testing.assert_frame_equal(bars, expected, check_index_type=True)
    assert str(bars.index.tz) == "UTC"
    assert list(bars.dtypes.astype(str)) == ["float64"] * 5
