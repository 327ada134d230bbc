"""SyntheticProvider: reproducible, one path per (seed, symbol), XNYS sessions, consistent bars."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.core.bars import Timeframe
from marketdata.core.calendar import sessions_between
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SAMPLE_UNIVERSE, SYNTHETIC_EPOCH, SyntheticProvider
from marketdata.core.quality import check_bars


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def assert_ohlc_consistent(bars: pd.DataFrame) -> None:
    o, h, lo, c, v = (bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    assert (lo <= np.minimum(o, c)).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo > 0).all()
    assert (v > 0).all()


def test_same_seed_gives_identical_bars():
    a = SyntheticProvider(seed=7).bars("AAA", at(2024, 1, 1), at(2024, 3, 31), Timeframe.D1)
    b = SyntheticProvider(seed=7).bars("AAA", at(2024, 1, 1), at(2024, 3, 31), Timeframe.D1)

    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 61


def test_seed_pins_the_path_from_the_epoch():
    # given the first sessions of AAA with seed 7 (a change here changes every stored synthetic bar)
    bars = SyntheticProvider(seed=7).bars("AAA", at(2000, 1, 3), at(2000, 1, 6), Timeframe.D1)

    assert bars.index.tolist() == [pd.Timestamp(f"2000-01-0{d}", tz="UTC") for d in (3, 4, 5, 6)]
    assert bars.to_numpy().tolist() == [
        [327.2, 329.45, 323.67, 324.26, 262294.0],
        [323.2, 327.76, 323.05, 327.3, 410615.0],
        [327.07, 327.19, 323.75, 324.16, 342716.0],
        [325.21, 325.58, 319.53, 320.95, 608565.0],
    ]


def test_different_seed_or_symbol_gives_different_bars():
    a = SyntheticProvider(seed=7).bars("AAA", at(2024, 1, 1), at(2024, 3, 31), Timeframe.D1)
    other_seed = SyntheticProvider(seed=8).bars("AAA", at(2024, 1, 1), at(2024, 3, 31), Timeframe.D1)
    other_symbol = SyntheticProvider(seed=7).bars("BBB", at(2024, 1, 1), at(2024, 3, 31), Timeframe.D1)

    # same sessions, no close in common
    assert other_seed.index.equals(a.index)
    assert int((a["close"] == other_seed["close"]).sum()) == 0
    assert int((a["close"] == other_symbol["close"]).sum()) == 0


def test_daily_sub_range_is_a_slice_of_a_longer_range():
    provider = SyntheticProvider(seed=7)
    long = provider.bars("AAA", at(2023, 1, 1), at(2024, 12, 31), Timeframe.D1)

    march = provider.bars("AAA", at(2024, 3, 1), at(2024, 3, 31), Timeframe.D1)

    pd.testing.assert_frame_equal(march, long.loc["2024-03-01":"2024-03-31"])
    assert len(march) == 20


def test_intraday_day_is_a_slice_of_a_longer_range():
    provider = SyntheticProvider(seed=7)
    week = provider.bars("AAA", at(2024, 3, 4), at(2024, 3, 8, 23, 59), Timeframe.M5)

    wednesday = provider.bars("AAA", at(2024, 3, 6), at(2024, 3, 6, 23, 59), Timeframe.M5)

    pd.testing.assert_frame_equal(wednesday, week.loc["2024-03-06"], check_freq=False)
    assert len(week) == 5 * 78
    assert (wednesday.index[0], wednesday.index[-1]) == (
        pd.Timestamp("2024-03-06 14:30", tz="UTC"),
        pd.Timestamp("2024-03-06 20:55", tz="UTC"),
    )


def test_intraday_range_inside_a_session():
    bars = SyntheticProvider(seed=7).bars("AAA", at(2024, 3, 6, 15, 0), at(2024, 3, 6, 15, 20), Timeframe.M5)

    assert bars.index.tolist() == [
        pd.Timestamp(f"2024-03-06 15:{m:02d}", tz="UTC") for m in (0, 5, 10, 15, 20)
    ]


def test_sessions_are_exactly_xnys_sessions():
    bars = SyntheticProvider(seed=7).bars("AAA", at(2024, 1, 1), at(2024, 12, 31), Timeframe.D1)

    expected = sessions_between(date(2024, 1, 1), date(2024, 12, 31)).tz_localize("UTC")
    assert bars.index.tolist() == expected.tolist()
    assert len(bars) == 252
    assert pd.Timestamp("2024-07-04", tz="UTC") not in bars.index
    assert pd.Timestamp("2024-11-29", tz="UTC") in bars.index


@pytest.mark.parametrize("symbol", SAMPLE_UNIVERSE[:5])
def test_daily_bars_are_consistent_cents_and_whole_volumes(symbol):
    bars = SyntheticProvider(seed=7).bars(symbol, at(2023, 1, 1), at(2024, 12, 31), Timeframe.D1)

    assert_ohlc_consistent(bars)
    for column in ("open", "high", "low", "close"):
        values = bars[column].to_numpy()
        assert (np.round(values, 2) == values).all(), column
    volume = bars["volume"].to_numpy()
    assert (np.round(volume) == volume).all()
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert list(bars.dtypes.astype(str)) == ["float64"] * 5
    assert bars.index.name == "ts"


def test_intraday_early_close_ends_at_1759_utc():
    # given Black Friday 2024, which closes at 13:00 New York (18:00 UTC)
    provider = SyntheticProvider(seed=7)

    minutes = provider.bars("AAA", at(2024, 11, 29), at(2024, 11, 29, 23, 59), Timeframe.M1)
    day = provider.bars("AAA", at(2024, 11, 29), at(2024, 11, 29), Timeframe.D1)

    # then 210 one-minute bars from the 14:30 UTC open, bridging the day's open to its close
    assert len(minutes) == 210
    assert minutes.index[0] == pd.Timestamp("2024-11-29 14:30", tz="UTC")
    assert minutes.index[-1] == pd.Timestamp("2024-11-29 17:59", tz="UTC")
    assert minutes["open"].iloc[0] == day["open"].iloc[0]
    assert minutes["close"].iloc[-1] == day["close"].iloc[-1]
    assert_ohlc_consistent(minutes)
    for column in ("open", "high", "low", "close"):
        values = minutes[column].to_numpy()
        assert (np.round(values, 2) == values).all(), column
    assert (np.round(minutes["volume"]) == minutes["volume"]).all()


def test_start_before_the_epoch_is_invalid():
    with pytest.raises(InvalidInput) as exc:
        SyntheticProvider(seed=7).bars("AAA", at(1999, 12, 31), at(2000, 1, 10), Timeframe.D1)

    assert exc.value.message == "synthetic data starts at 2000-01-03; start 1999-12-31 is earlier"


def test_start_at_the_epoch_is_the_first_bar():
    start = at(SYNTHETIC_EPOCH.year, SYNTHETIC_EPOCH.month, SYNTHETIC_EPOCH.day)

    bars = SyntheticProvider(seed=7).bars("AAA", start, at(2000, 1, 4), Timeframe.D1)

    assert bars.index.tolist() == [pd.Timestamp("2000-01-03", tz="UTC"), pd.Timestamp("2000-01-04", tz="UTC")]


def test_a_synthetic_year_passes_every_check():
    provider = SyntheticProvider(seed=7)

    result = check_bars(
        provider.fetch_bars("AAA", at(2023, 1, 1), at(2023, 12, 31), Timeframe.D1), exchange_calendar=True
    )

    assert result.rows_checked == 250
    assert result.rejected == []
    assert result.issues == []


def test_get_bars_returns_the_bars():
    provider = SyntheticProvider(seed=7)

    bars = provider.get_bars("AAA", at(2024, 1, 1), at(2024, 1, 31), Timeframe.D1)

    pd.testing.assert_frame_equal(bars, provider.bars("AAA", at(2024, 1, 1), at(2024, 1, 31), Timeframe.D1))
    assert len(bars) == 21


@settings(derandomize=True, max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    symbol=st.sampled_from(SAMPLE_UNIVERSE)
    | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=6),
)
def test_every_bar_is_ohlc_consistent(seed, symbol):
    provider = SyntheticProvider(seed=seed)

    daily = provider.bars(symbol, at(2024, 1, 1), at(2024, 6, 30), Timeframe.D1)
    intraday = provider.bars(symbol, at(2024, 6, 28), at(2024, 6, 28, 23, 59), Timeframe.M15)

    assert len(daily) == 124
    assert len(intraday) == 26
    assert_ohlc_consistent(daily)
    assert_ohlc_consistent(intraday)


def test_volatility_regimes_exist():
    # given ten years of every sample symbol. The turbulent regime has 2.5x the calm volatility, so
    # the rolling 21-session volatility peaks well above its median (seed 7: 2.74x to 5.95x).
    provider = SyntheticProvider(seed=7)

    ratios = {}
    for symbol in SAMPLE_UNIVERSE:
        closes = provider.bars(symbol, at(2010, 1, 1), at(2019, 12, 31), Timeframe.D1)["close"]
        vol = np.log(closes).diff().rolling(21).std().dropna()
        ratios[symbol] = vol.max() / vol.median()

    assert len(closes) == 2516
    assert min(ratios.values()) >= 2.5, ratios
