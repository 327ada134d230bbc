"""A session's chain as strategies read it: quotes, expiries, contracts by delta or strike, marks by
quote or model, greeks of legs in money, and greeks computed where the source gave none."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.option_pricing import bsm_greeks, bsm_price
from marketdata.core.options import OptionContract, Right
from marketdata.core.providers.option_chains import chain_frame
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.core.providers.synthetic_chains import SyntheticChainProvider
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionLeg
from strategies.core.types import Side

DAY = datetime(2024, 3, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def chain():
    """AAA's synthetic chain on 2024-03-15 (seed 7) at that day's close."""
    frame = SyntheticChainProvider(seed=7).get_chains("AAA", DAY, DAY)
    close = SyntheticProvider(seed=7).bars("AAA", DAY, DAY, Timeframe.D1)["close"].iloc[0]
    return ChainSnapshot(frame, spot=float(close), ts=DAY)


def hand_chain(**quotes) -> ChainSnapshot:
    """Two contracts expiring 2024-04-19 with the underlying at 100 on 2024-03-15."""
    symbols = ["AAA240419C00100000", "AAA240419P00095000"]
    frame = chain_frame([DAY] * 2, symbols, **quotes)
    return ChainSnapshot(frame, spot=100.0, ts=DAY, rate=0.04)


def test_expiries_are_listed_in_order_with_their_days_to_expiry(chain):
    expiries = chain.expiries()
    assert expiries == sorted(expiries)
    assert expiries[0] >= date(2024, 3, 15)
    assert chain.days_to_expiry(date(2024, 4, 19)) == 35
    assert chain.expiry_near(35) == date(2024, 4, 19)
    assert chain.expiry_near(0) == expiries[0]
    assert chain.days_to_expiry(expiries[0]) >= 1


def test_a_contract_is_picked_by_delta_as_the_nearest_absolute_delta(chain):
    expiry = date(2024, 4, 19)
    put = chain.by_delta(expiry, Right.PUT, 0.30)
    deltas = {c.symbol: chain.quote(c.symbol).delta for c in chain.contracts(expiry, Right.PUT)}
    assert put.right is Right.PUT
    assert put.expiry == expiry
    assert abs(abs(deltas[put.symbol]) - 0.30) == min(abs(abs(d) - 0.30) for d in deltas.values())
    call = chain.by_delta(expiry, "call", 0.16)
    assert call.strike > chain.spot > put.strike


def test_a_contract_is_picked_by_strike_the_lower_on_a_tie():
    chain = hand_chain(bid=[1.0, 2.0], ask=[1.2, 2.2])
    assert chain.by_strike(date(2024, 4, 19), Right.CALL, 97).symbol == "AAA240419C00100000"
    assert chain.contracts(date(2024, 4, 19), Right.PUT) == [OptionContract.parse("AAA240419P00095000")]


def test_marks_are_the_mid_of_a_two_sided_quote_else_the_model_at_the_quotes_vol():
    chain = hand_chain(bid=[2.0, 0.0], ask=[2.5, 0.4], iv=[0.25, 0.30])
    assert chain.mark("AAA240419C00100000") == 2.25
    t = 35 / 365
    assert chain.mark("AAA240419P00095000") == pytest.approx(bsm_price("put", 100.0, 95.0, t, 0.04, 0.30))
    assert chain.mark("AAA240419C00100000", by="model") == pytest.approx(
        bsm_price("call", 100.0, 100.0, t, 0.04, 0.25)
    )


def test_greeks_missing_from_the_source_come_from_the_mids_implied_vol():
    t = 35 / 365
    call = bsm_price("call", 100.0, 100.0, t, 0.04, 0.25)
    put = bsm_price("put", 100.0, 95.0, t, 0.04, 0.35)
    chain = hand_chain(bid=[call - 0.05, put - 0.05], ask=[call + 0.05, put + 0.05])
    quote = chain.quote("AAA240419P00095000")
    assert quote.iv == pytest.approx(0.35, abs=1e-6)
    assert quote.delta == pytest.approx(bsm_greeks("put", 100.0, 95.0, t, 0.04, 0.35).delta, abs=1e-6)


def test_the_exposure_of_legs_is_in_money_per_unit_times_units():
    chain = hand_chain(
        bid=[2.0, 1.0],
        ask=[2.2, 1.1],
        iv=[0.2, 0.3],
        delta=[0.5, -0.2],
        vega=[11.0, 9.0],
        theta=[-7.3, -3.65],
    )
    legs = [
        OptionLeg(OptionContract.parse("AAA240419C00100000"), Side.SELL),
        OptionLeg(OptionContract.parse("AAA240419P00095000"), Side.BUY, ratio=2),
    ]
    exposure = chain.exposure(legs, qty=3)
    # short 3 calls, long 6 puts, 100 shares each, spot 100
    assert exposure.delta == pytest.approx((-3 * 0.5 + 6 * -0.2) * 100 * 100)
    assert exposure.vega == pytest.approx((-3 * 11.0 + 6 * 9.0) * 100 / 100)
    assert exposure.theta == pytest.approx((-3 * -7.3 + 6 * -3.65) * 100 / 365)
    assert chain.net_mark(legs) == pytest.approx(-2.1 + 2 * 1.05)


def test_expired_contracts_are_not_in_the_snapshot():
    frame = chain_frame(
        [DAY] * 2, ["AAA240315C00100000", "AAA240314C00100000"], bid=[1.0, 1.0], ask=[1.1, 1.1]
    )
    chain = ChainSnapshot(frame, spot=100.0, ts=DAY)
    assert "AAA240315C00100000" in chain
    assert "AAA240314C00100000" not in chain
    assert len(chain) == 1


def test_bad_input_is_refused_with_a_reason():
    frame = chain_frame([DAY], ["AAA240419C00100000"], bid=[1.0], ask=[1.1])
    with pytest.raises(InvalidInput, match="price above 0"):
        ChainSnapshot(frame, spot=float("nan"), ts=DAY)
    two_days = chain_frame([DAY, pd.Timestamp("2024-03-18", tz="UTC")], ["AAA240419C00100000"] * 2)
    with pytest.raises(InvalidInput, match="one time"):
        ChainSnapshot(two_days, spot=100.0, ts=DAY)
    chain = ChainSnapshot(frame, spot=100.0, ts=DAY)
    with pytest.raises(NotFound, match="AAA240419P00100000 is not quoted in the chain of AAA on 2024-03-15"):
        chain.quote("AAA240419P00100000")
    with pytest.raises(NotFound, match="no puts of AAA expiring 2024-04-19"):
        chain.by_strike(date(2024, 4, 19), Right.PUT, 100)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        chain.by_delta(date(2024, 4, 19), Right.CALL, 1.5)
    with pytest.raises(InvalidInput, match="'quote' or 'model'"):
        chain.mark("AAA240419C00100000", by="last")
    no_vol = chain_frame([DAY], ["AAA240419C00100000"], bid=[0.0], ask=[0.05])
    with pytest.raises(InvalidInput, match="neither a two-sided quote nor an implied volatility"):
        ChainSnapshot(no_vol, spot=200.0, ts=DAY).mark("AAA240419C00100000")
    assert np.isnan(ChainSnapshot(no_vol, spot=200.0, ts=DAY).quote("AAA240419C00100000").iv)
