"""Option pricing against Hull's published examples, put-call parity and the IV round trip.

Hull: J. C. Hull, Options, Futures, and Other Derivatives (the examples are the same in the
8th to 11th editions, under different chapter numbers).
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marketdata.core.errors import InvalidInput
from marketdata.core.option_pricing import (
    binomial_price,
    bsm_greeks,
    bsm_price,
    implied_vol,
    no_arbitrage_bounds,
)
from marketdata.core.options import Right


def test_bsm_matches_hulls_example_of_a_six_month_option():
    # Hull: S0 = 42, K = 40, r = 10%, sigma = 20%, T = 0.5: c = 4.76, p = 0.81.
    call = bsm_price("call", 42, 40, 0.5, 0.10, 0.20)
    put = bsm_price(Right.PUT, 42, 40, 0.5, 0.10, 0.20)

    assert (round(call, 2), round(put, 2)) == (4.76, 0.81)


def test_bsm_with_a_dividend_yield_matches_hulls_index_option():
    # Hull: European index call, S0 = 930, K = 900, r = 8%, q = 3%, sigma = 20%, T = 2 months: 51.83.
    assert round(bsm_price("call", 930, 900, 2 / 12, 0.08, 0.20, 0.03), 2) == 51.83


def test_greeks_match_hulls_example_in_the_units_stated():
    # Hull: call on a non-dividend stock, S0 = 49, K = 50, r = 5%, sigma = 20%, T = 20 weeks:
    # price 2.40, delta 0.522, gamma 0.066, vega 12.1 (per 1.00 of vol), theta -4.31 (per year),
    # rho 8.91 (per 1.00 of rate).
    args = ("call", 49, 50, 20 / 52, 0.05, 0.20)

    greeks = bsm_greeks(*args)

    assert round(bsm_price(*args), 2) == 2.40
    assert (round(greeks.delta, 3), round(greeks.gamma, 3), round(greeks.vega, 1)) == (0.522, 0.066, 12.1)
    assert (round(greeks.theta, 2), round(greeks.rho, 2)) == (-4.31, 8.91)


@pytest.mark.parametrize(("steps", "hull"), [(5, 4.49), (30, 4.263), (50, 4.272), (100, 4.278), (500, 4.283)])
def test_binomial_american_put_matches_hulls_tree(steps, hull):
    # Hull: American put, S0 = 50, K = 50, r = 10%, sigma = 40%, T = 5 months, on CRR trees.
    value = binomial_price("put", 50, 50, 5 / 12, 0.10, 0.40, steps=steps)

    assert round(value, len(str(hull).split(".")[1])) == hull


def test_american_put_is_worth_more_than_the_european_hull_prices_at_408():
    european = bsm_price("put", 50, 50, 5 / 12, 0.10, 0.40)
    american = binomial_price("put", 50, 50, 5 / 12, 0.10, 0.40, steps=500)

    assert round(european, 2) == 4.08
    assert round(american - european, 3) == 0.207


@pytest.mark.parametrize("right", ["call", "put"])
def test_binomial_european_converges_to_bsm_with_a_dividend_yield(right):
    args = (right, 100, 95, 0.75, 0.05, 0.25, 0.02)

    tree = binomial_price(*args, steps=2000, american=False)

    assert abs(tree - bsm_price(*args)) < 0.005


def test_an_american_call_without_dividends_is_never_exercised_early():
    args = ("call", 100, 95, 1.0, 0.05, 0.30)

    assert binomial_price(*args, steps=300) == pytest.approx(binomial_price(*args, steps=300, american=False))


def test_an_american_call_with_a_high_dividend_yield_is_worth_more_than_the_european():
    args = ("call", 100, 80, 1.0, 0.02, 0.20, 0.10)

    american = binomial_price(*args, steps=400)
    european = binomial_price(*args, steps=400, american=False)

    assert american > european + 0.5
    assert american >= 100 - 80


def test_binomial_at_expiry_is_intrinsic():
    assert (binomial_price("put", 40, 50, 0, 0.05, 0.3), binomial_price("call", 40, 50, 0, 0.05, 0.3)) == (
        10,
        0,
    )


def test_binomial_with_too_few_steps_for_the_inputs_is_refused():
    # one step of 10 years at 1% vol: exp(r dt) is above u, so the up probability exceeds 1
    with pytest.raises(InvalidInput) as caught:
        binomial_price("put", 100, 100, 10, 0.05, 0.01, steps=1)

    assert caught.value.message.startswith("1 steps are too few for these inputs: the up probability ")


finite = {"allow_nan": False, "allow_infinity": False}
spots = st.floats(1.0, 1000.0, **finite)
moneyness = st.floats(0.5, 2.0, **finite)
years = st.floats(0.01, 3.0, **finite)
rates = st.floats(-0.02, 0.15, **finite)
yields = st.floats(0.0, 0.08, **finite)
vols = st.floats(0.05, 1.5, **finite)


@given(spot=spots, ratio=moneyness, t=years, rate=rates, vol=vols, q=yields)
def test_put_call_parity_holds(spot, ratio, t, rate, vol, q):
    strike = spot * ratio

    call = bsm_price("call", spot, strike, t, rate, vol, q)
    put = bsm_price("put", spot, strike, t, rate, vol, q)

    forward_value = spot * math.exp(-q * t) - strike * math.exp(-rate * t)
    assert call - put == pytest.approx(forward_value, abs=1e-9 * spot)


@given(spot=spots, ratio=moneyness, t=years, rate=rates, vol=vols, q=yields, right=st.sampled_from(Right))
def test_implied_vol_gives_back_the_vol_that_priced_the_option(spot, ratio, t, rate, vol, q, right):
    strike = spot * ratio
    price = bsm_price(right, spot, strike, t, rate, vol, q)
    lower, upper = no_arbitrage_bounds(right, spot, strike, t, rate, q)
    # a price within rounding of a bound carries no information about the vol
    assume(price - lower > 1e-6 * spot and upper - price > 1e-6 * spot)

    assert implied_vol(price, right, spot, strike, t, rate, q) == pytest.approx(vol, abs=1e-6)


def test_greeks_are_the_derivatives_of_the_price_in_the_units_stated():
    args = {"spot": 100.0, "strike": 105.0, "t": 0.4, "rate": 0.03, "vol": 0.3, "dividend_yield": 0.01}
    h = 1e-4

    def moved(name, by):
        return bsm_price("put", **{**args, name: args[name] + by})

    greeks = bsm_greeks("put", **args)

    assert greeks.delta == pytest.approx((moved("spot", h) - moved("spot", -h)) / (2 * h), rel=1e-6)
    gamma = (moved("spot", h) - 2 * bsm_price("put", **args) + moved("spot", -h)) / h**2
    assert greeks.gamma == pytest.approx(gamma, rel=1e-4)
    assert greeks.vega == pytest.approx((moved("vol", h) - moved("vol", -h)) / (2 * h), rel=1e-6)
    assert greeks.rho == pytest.approx((moved("rate", h) - moved("rate", -h)) / (2 * h), rel=1e-6)
    # theta is the value's change as calendar time passes: one year less to expiry
    assert greeks.theta == pytest.approx(-(moved("t", h) - moved("t", -h)) / (2 * h), rel=1e-6)


def test_prices_and_greeks_of_arrays_are_those_of_each_element():
    rights = np.array(["call", "put", "C", "P"])
    strikes = np.array([90.0, 95.0, 100.0, 110.0])
    vols = np.array([0.2, 0.25, 0.3, 0.35])

    prices = bsm_price(rights, 100.0, strikes, 0.5, 0.04, vols, 0.01)
    deltas = bsm_greeks(rights, 100.0, strikes, 0.5, 0.04, vols, 0.01).delta

    each = [bsm_price(r, 100.0, k, 0.5, 0.04, v, 0.01) for r, k, v in zip(rights, strikes, vols, strict=True)]
    assert prices.tolist() == each
    assert deltas.tolist() == [
        bsm_greeks(r, 100.0, k, 0.5, 0.04, v, 0.01).delta
        for r, k, v in zip(rights, strikes, vols, strict=True)
    ]
    assert implied_vol(prices, rights, 100.0, strikes, 0.5, 0.04, 0.01) == pytest.approx(vols, abs=1e-9)


def test_an_option_with_no_time_value_is_worth_the_forwards_intrinsic_value():
    at_expiry = bsm_greeks(["call", "put", "put"], 42.0, [40.0, 40.0, 45.0], 0.0, 0.1, 0.2)

    assert bsm_price(["call", "put", "put"], 42.0, [40.0, 40.0, 45.0], 0.0, 0.1, 0.2).tolist() == [
        2.0,
        0.0,
        3.0,
    ]
    assert at_expiry.delta.tolist() == [1.0, 0.0, -1.0]
    assert (at_expiry.gamma.tolist(), at_expiry.vega.tolist()) == ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    # no volatility: the call is worth S - K e^(-rT) for a year
    assert bsm_price("call", 42.0, 40.0, 1.0, 0.1, 0.0) == pytest.approx(42 - 40 * math.exp(-0.1))


@pytest.mark.parametrize(
    ("price", "right", "t", "message"),
    [
        (
            1.0,
            "call",
            0.5,
            "no implied volatility for price 1: it is at or below the no-arbitrage lower bound 3.95082",
        ),
        (
            3.95082,
            "call",
            0.5,
            "no implied volatility for price 3.95082: it is at or below the no-arbitrage lower bound 3.95082",
        ),
        (
            42.5,
            "call",
            0.5,
            "no implied volatility for price 42.5: it is at or above the no-arbitrage upper bound 42",
        ),
        (
            38.1,
            "put",
            0.5,
            "no implied volatility for price 38.1: it is at or above the no-arbitrage upper bound 38.0492",
        ),
        (0.81, "put", 0.0, "no implied volatility for price 0.81: no time to expiry is left"),
        (41.99999, "call", 0.01, "no implied volatility for price 42: it needs a volatility above 1000%"),
    ],
)
def test_implied_vol_of_a_price_without_one_says_why(price, right, t, message):
    with pytest.raises(InvalidInput) as caught:
        implied_vol(price, right, 42, 40, t, 0.10)

    assert caught.value.message == message


def test_implied_vol_of_an_array_names_the_first_bad_element_or_gives_nan():
    prices = [4.76, 0.0, 0.81]
    rights = ["call", "put", "put"]

    with pytest.raises(InvalidInput) as caught:
        implied_vol(prices, rights, 42, 40, 0.5, 0.10)
    vols = implied_vol(prices, rights, 42, 40, 0.5, 0.10, errors="nan")

    assert caught.value.message == (
        "no implied volatility for price 0 (element 1): it is at or below the no-arbitrage lower bound 0"
    )
    assert np.isnan(vols).tolist() == [False, True, False]
    assert np.round(vols[[0, 2]], 4).tolist() == [0.2001, 0.2002]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("call", -1, 40, 0.5, 0.1, 0.2), "spot must be positive, not -1"),
        (("call", 42, 0, 0.5, 0.1, 0.2), "strike must be positive, not 0"),
        (("call", 42, 40, -0.5, 0.1, 0.2), "t must be zero or more, not -0.5"),
        (("call", 42, 40, 0.5, 0.1, -0.2), "vol must be zero or more, not -0.2"),
        (("call", 42, 40, 0.5, float("nan"), 0.2), "rate must be finite"),
        (("call", 42, "forty", 0.5, 0.1, 0.2), "strike must be a number or an array of numbers"),
        (("long", 42, 40, 0.5, 0.1, 0.2), "unknown option right 'long'; use call or put (C or P)"),
        ((["call", "cal"], 42, 40, 0.5, 0.1, 0.2), "unknown option right 'cal'; use call or put (C or P)"),
        (
            ("call", [42, 43], [40, 41, 42], 0.5, 0.1, 0.2),
            "the option inputs' array shapes do not broadcast together",
        ),
    ],
)
def test_bad_inputs_are_refused_by_name(args, message):
    with pytest.raises(InvalidInput) as caught:
        bsm_price(*args)

    assert caught.value.message == message
