"""Synthetic option chains: seeded, range-independent, listed on the expiry calendar, priced on a
skewed surface with spreads that widen away from the money."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.option_pricing import bsm_price
from marketdata.core.options import is_monthly_expiry, weekly_expiries
from marketdata.core.providers.option_chains import CHAIN_COLUMNS
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.core.providers.synthetic_chains import (
    SyntheticChainConfig,
    SyntheticChainProvider,
    VolSurface,
    strike_grid,
    synthetic_chains,
)


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.fixture(scope="module")
def march():
    """AAA's chains of March 2024, seed 7."""
    return SyntheticChainProvider(seed=7).get_chains("AAA", at(2024, 3, 1), at(2024, 3, 31))


@pytest.fixture(scope="module")
def closes():
    bars = SyntheticProvider(seed=7).bars("AAA", at(2024, 3, 1), at(2024, 3, 31), Timeframe.D1)
    return bars["close"]


def test_a_chain_has_the_chain_columns_one_row_per_contract_and_session(march):
    assert tuple(march.columns) == CHAIN_COLUMNS
    assert march.dtypes.astype(str).to_dict() == {
        "ts": "datetime64[ns, UTC]",
        "symbol": "str",
        "underlying": "str",
        "expiry": "datetime64[ns]",
        "strike": "float64",
        "right": "str",
        **dict.fromkeys(CHAIN_COLUMNS[6:], "float64"),
    }
    assert not march.duplicated(["ts", "symbol"]).any()
    assert march.equals(march.sort_values(["ts", "expiry", "strike", "right"], ignore_index=True))
    # no trades are simulated
    assert march["last"].isna().all()
    assert march["volume"].isna().all()


def test_the_chain_of_a_day_is_pinned_by_the_seed(march):
    # a change here changes every synthetic chain
    row = march.set_index(["ts", "symbol"]).loc[(pd.Timestamp("2024-03-01", tz="UTC"), "AAA240419C00055000")]

    assert (row.underlying, row.expiry, row.strike, row.right) == (
        "AAA",
        pd.Timestamp("2024-04-19"),
        55.0,
        "call",
    )
    assert (row.bid, row.ask, round(row.mid, 9)) == (1.90, 1.99, 1.945)
    assert round(row.iv, 6) == 0.260994
    assert (round(row.delta, 4), round(row.vega, 4)) == (0.4972, 7.9544)


def test_same_seed_same_chains_and_another_seed_another_surface(march):
    again = SyntheticChainProvider(seed=7).get_chains("AAA", at(2024, 3, 1), at(2024, 3, 31))
    other = SyntheticChainProvider(bars=SyntheticProvider(seed=7), seed=8).get_chains(
        "AAA", at(2024, 3, 1), at(2024, 3, 31)
    )

    pd.testing.assert_frame_equal(again, march)
    common = march.merge(other, on=["ts", "symbol"], suffixes=("", "_other"))
    assert len(common) > 0.9 * len(march)
    assert int((common["iv"] == common["iv_other"]).sum()) == 0


def test_a_shorter_range_is_a_slice_of_a_longer_one(march):
    week = SyntheticChainProvider(seed=7).get_chains("AAA", at(2024, 3, 11), at(2024, 3, 15))

    expected = march[(march["ts"] >= "2024-03-11") & (march["ts"] <= "2024-03-15")].reset_index(drop=True)
    pd.testing.assert_frame_equal(week, expected)


def test_chains_are_quoted_on_each_session_of_the_range(march, closes):
    assert march["ts"].drop_duplicates().tolist() == closes.index.tolist()
    assert len(closes) == 20


def test_expiries_are_weeklies_close_in_and_monthlies_further_out(march):
    first_day = march[march["ts"] == march["ts"].iloc[0]]

    # 2024-03-29 was Good Friday: that week expires on Thursday the 28th
    assert [d.date() for d in first_day["expiry"].drop_duplicates()] == [
        date(2024, 3, 8),
        date(2024, 3, 15),
        date(2024, 3, 22),
        date(2024, 3, 28),
        date(2024, 4, 5),
        date(2024, 4, 19),
        date(2024, 5, 17),
    ]
    config = SyntheticChainConfig()
    for ts, listed in march[["ts", "expiry"]].drop_duplicates().itertuples(index=False):
        day, expiry = ts.date(), listed.date()
        assert expiry in weekly_expiries(expiry, expiry)
        assert 0 < (expiry - day).days <= config.monthly_days
        assert (expiry - day).days <= config.weekly_days or is_monthly_expiry(expiry)


def test_strikes_are_on_the_grid_and_around_spot(march, closes):
    step = np.where(march["strike"] < 25, 0.5, np.where(march["strike"] < 100, 1.0, 2.5))
    assert (np.round(march["strike"] / step, 9) % 1 == 0).all()
    for (ts, _), strikes in march.groupby(["ts", "expiry"])["strike"]:
        spot = closes[ts]
        assert strikes.min() < spot < strikes.max()
        assert np.abs(strikes - spot).min() <= 0.5


def test_strike_grid_steps_widen_with_the_price():
    assert (strike_grid(23.2, 26.1) / 1000).tolist() == [23.5, 24.0, 24.5, 25.0, 26.0]
    assert (strike_grid(247.0, 262.0) / 1000).tolist() == [247.5, 250.0, 255.0, 260.0]
    assert strike_grid(0.1, 0.4).tolist() == []


def test_a_listed_contract_stays_listed_until_it_expires(march):
    sessions = march["ts"].drop_duplicates().reset_index(drop=True)
    position = pd.Series(sessions.index, index=sessions)
    for symbol, rows in march.groupby("symbol"):
        days = position[rows["ts"]].to_numpy()
        last_quote = rows["ts"].iloc[-1].date()
        assert (np.diff(days) == 1).all(), symbol
        expiry = rows["expiry"].iloc[0].date()
        assert last_quote < expiry
        if expiry <= date(2024, 3, 31):
            # quoted up to the session before its expiry
            assert last_quote == sessions[sessions.dt.date < expiry].iloc[-1].date()
        else:
            assert last_quote == sessions.iloc[-1].date()


def test_quotes_are_on_ticks_around_the_model_price(march):
    bid, ask, mid = march["bid"], march["ask"], march["mid"]
    price = bsm_price(
        march["right"].to_numpy(),
        *_spot_strike_t(march),
        0.04,
        march["iv"].to_numpy(),
    )

    assert ((bid >= 0) & (bid <= price + 1e-9) & (price <= ask + 1e-9) & (bid < ask)).all()
    assert (mid == (bid + ask) / 2).all()
    cents = np.round(pd.concat([bid, ask]) * 100)
    assert (np.abs(pd.concat([bid, ask]) * 100 - cents) < 1e-6).all()
    nickels = pd.concat([bid[price >= 3], ask[price >= 3]])
    assert (np.round(nickels * 100) % 5 == 0).all()


def test_spreads_widen_as_a_fraction_of_price_away_from_the_money(march, closes):
    day = march[march["ts"] == march["ts"].iloc[0]]
    spot = closes.iloc[0]
    for (_, right), side in day.groupby(["expiry", "right"]):
        otm = side[side["strike"] >= spot] if right == "call" else side[side["strike"] <= spot]
        otm = otm.iloc[np.argsort(np.abs(np.log(otm["strike"] / spot)).to_numpy())]
        relative = ((otm["ask"] - otm["bid"]) / otm["mid"]).to_numpy()
        assert relative[0] == relative.min()
        assert relative[-1] == relative.max() > 2 * relative[0]


def test_the_surface_is_skewed_below_the_forward(march):
    # calls and puts of a strike share one volatility; below the forward it falls as the strike
    # rises (flat only where it is held at 2.5 times the at-the-money level)
    assert (
        march.pivot_table(index=["ts", "strike", "expiry"], columns="right", values="iv")
        .diff(axis=1)
        .iloc[:, 1]
        == 0
    ).all()
    puts = march[march["right"] == "put"]
    spot, strike, t = _spot_strike_t(puts)
    below = puts[np.log(strike / spot) - 0.04 * t < 0]
    for _, smile in below.groupby(["ts", "expiry"]):
        ivs = smile["iv"].to_numpy()
        assert (np.diff(ivs) <= 0).all()
        assert len(ivs) == 1 or ivs[-1] < ivs[0]


def test_the_term_structure_runs_from_short_to_long_realised_volatility():
    surface = VolSurface(premium=1.2, term=0.1, skew=-0.1, smile=0.02)

    atm = surface.atm(0.30, 0.20, np.array([0.0, 0.1, 5.0]))

    assert atm.round(6).tolist() == [
        0.36,
        round(1.2 * (0.30 * np.exp(-1) + 0.20 * (1 - np.exp(-1))), 6),
        0.24,
    ]
    assert surface.atm(0.01, 0.01, 0.5) == 0.05
    assert surface.vol(0.2, 0.0, 0.25) == 0.2
    assert surface.vol(0.2, -0.2 * 0.5, 0.25) == pytest.approx(0.2 * (1 + 0.1 + 0.02))


def test_chains_need_bars_before_them():
    bars = SyntheticProvider(seed=7).bars("AAA", at(2024, 3, 1), at(2024, 3, 31), Timeframe.D1)

    with pytest.raises(InvalidInput) as caught:
        synthetic_chains("AAA", bars, at(2024, 3, 1), at(2024, 3, 31))

    assert caught.value.message == "a chain of AAA on 2024-03-01 needs 22 sessions of bars up to it"


def test_a_range_without_sessions_gives_an_empty_chain():
    chains = SyntheticChainProvider(seed=7).get_chains("AAA", at(2024, 3, 2), at(2024, 3, 3))

    assert (len(chains), tuple(chains.columns)) == (0, CHAIN_COLUMNS)


def test_bad_config_is_refused():
    with pytest.raises(InvalidInput) as caught:
        SyntheticChainConfig(weekly_days=120)

    assert caught.value.message == "weekly_days (120) must be at least 1 and at most monthly_days (91)"


def test_history_days_cover_the_longest_listing_and_the_long_window():
    config = SyntheticChainConfig(monthly_days=60, weekly_days=30)

    assert config.history_days == 60 + 89 + 14
    assert at(2024, 3, 1) - timedelta(days=config.history_days) == at(2023, 9, 20)


def _spot_strike_t(chain: pd.DataFrame):
    closes = SyntheticProvider(seed=7).bars("AAA", at(2024, 1, 1), at(2024, 12, 31), Timeframe.D1)["close"]
    spot = closes[chain["ts"]].to_numpy()
    t = (chain["expiry"] - chain["ts"].dt.tz_localize(None)).dt.days.to_numpy() / 365.0
    return spot, chain["strike"].to_numpy(), t


def test_only_expiries_within_their_listing_horizon_are_quoted():
    config = SyntheticChainConfig(monthly_days=1, weekly_days=1)
    provider = SyntheticChainProvider(seed=7, config=config)

    monday = provider.get_chains("AAA", at(2024, 3, 4), at(2024, 3, 4))
    thursday = provider.get_chains("AAA", at(2024, 3, 7), at(2024, 3, 7))

    assert len(monday) == 0
    assert thursday["expiry"].drop_duplicates().tolist() == [pd.Timestamp("2024-03-08")]
