"""Option prices, greeks and implied volatility.

European options by Black-Scholes-Merton with a continuous dividend yield q; American options
by a Cox-Ross-Rubinstein binomial tree with the same yield. The European functions take numpy
arrays (broadcast together) as well as numbers, so a whole chain prices in one call; numbers
in give a float out.

Units: spot and strike in the same currency, ``t`` in years, ``rate``, ``dividend_yield`` and
``vol`` as annual decimals (0.05 is 5%), continuously compounded.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import elementwise
from scipy.special import ndtr

from marketdata.core.errors import InvalidInput
from marketdata.core.options import Right

IV_BRACKET = (1e-6, 10.0)  # implied volatilities are sought from 0.0001% to 1000%


@dataclass(frozen=True)
class Greeks:
    """Sensitivities of one option (or arrays of them), per unit of the underlying.

    delta: per 1.00 move of spot. gamma: change of delta per 1.00 move of spot.
    vega: per 1.00 change of volatility (1.00 = 100 vol points; divide by 100 for one point).
    theta: per year of calendar time passing (divide by 365 for one day).
    rho: per 1.00 change of the rate (divide by 100 for one percentage point).
    """

    delta: np.ndarray | float
    gamma: np.ndarray | float
    vega: np.ndarray | float
    theta: np.ndarray | float
    rho: np.ndarray | float


def bsm_price(right, spot, strike, t, rate, vol, dividend_yield=0.0):
    """The Black-Scholes-Merton value of European options. At t = 0 or vol = 0 it is the
    discounted intrinsic value of the forward."""
    m = _Market.of(right, spot, strike, t, rate, vol, dividend_yield)
    call = m.disc_spot * ndtr(m.d1) - m.disc_strike * ndtr(m.d2)
    put = m.disc_strike * ndtr(-m.d2) - m.disc_spot * ndtr(-m.d1)
    return _out(np.where(m.call, call, put))


def bsm_greeks(right, spot, strike, t, rate, vol, dividend_yield=0.0) -> Greeks:
    """Delta, gamma, vega, theta and rho of European options (units in Greeks).

    Where the option has no time value left (t = 0 or vol = 0), gamma and vega are 0 and delta
    is the discounted exercise indicator.
    """
    m = _Market.of(right, spot, strike, t, rate, vol, dividend_yield)
    sign = np.where(m.call, 1.0, -1.0)
    live = m.sd > 0
    density = np.exp(-0.5 * np.where(live, m.d1, 0.0) ** 2) / np.sqrt(2.0 * np.pi) * live
    n1, n2 = ndtr(sign * m.d1), ndtr(sign * m.d2)
    safe_sd = np.where(live, m.sd, 1.0)
    safe_t = np.where(m.t > 0, m.t, 1.0)
    decay = np.where(live, -m.disc_spot * density * m.vol / (2.0 * np.sqrt(safe_t)), 0.0)
    return Greeks(
        delta=_out(sign * np.exp(-m.q * m.t) * n1),
        gamma=_out(np.exp(-m.q * m.t) * density / (m.spot * safe_sd)),
        vega=_out(m.disc_spot * density * np.sqrt(m.t)),
        theta=_out(decay - sign * m.rate * m.disc_strike * n2 + sign * m.q * m.disc_spot * n1),
        rho=_out(sign * m.t * m.disc_strike * n2),
    )


def no_arbitrage_bounds(right, spot, strike, t, rate, dividend_yield=0.0):
    """The (lower, upper) bounds of a European option's price: the discounted intrinsic value of
    the forward, and the discounted spot (call) or strike (put)."""
    m = _Market.of(right, spot, strike, t, rate, 0.0, dividend_yield)
    lower = np.maximum(np.where(m.call, 1.0, -1.0) * (m.disc_spot - m.disc_strike), 0.0)
    upper = np.where(m.call, m.disc_spot, m.disc_strike)
    return _out(lower), _out(upper)


def implied_vol(price, right, spot, strike, t, rate, dividend_yield=0.0, *, errors: str = "raise"):
    """The volatility at which bsm_price equals ``price``, by Chandrupatla's bracketed root finder
    (scipy.optimize.elementwise.find_root) on IV_BRACKET, element by element.

    A price outside the no-arbitrage bounds, or one that needs a volatility beyond the bracket,
    has no implied volatility: errors="raise" (the default) raises InvalidInput naming the first
    such price and why; errors="nan" gives NaN for it and solves the others (a chain's stale quotes).
    """
    if errors not in {"raise", "nan"}:
        raise InvalidInput(f"errors must be 'raise' or 'nan', not {errors!r}")
    price = np.asarray(price, dtype="float64")
    if not np.isfinite(price).all():
        raise InvalidInput("option prices must be finite numbers")
    m = _Market.of(right, spot, strike, t, rate, 0.0, dividend_yield)
    price, call, spot, strike, t, rate, q = np.broadcast_arrays(
        price, m.call, m.spot, m.strike, m.t, m.rate, m.q
    )
    lower, upper = (np.asarray(bound) for bound in no_arbitrage_bounds(call, spot, strike, t, rate, q))
    high_vol = IV_BRACKET[1]
    ceiling = bsm_price(call, spot, strike, t, rate, high_vol, q)
    reasons = np.select(
        [t <= 0, price <= lower, price >= upper, price >= ceiling],
        [
            "no time to expiry is left",
            "it is at or below the no-arbitrage lower bound {lower:.6g}",
            "it is at or above the no-arbitrage upper bound {upper:.6g}",
            "it needs a volatility above {high_vol:.0%}",
        ],
        default="",
    )
    if errors == "raise" and (bad := np.flatnonzero(reasons != "")).size:
        i = bad[0]
        reason = str(reasons.flat[i]).format(lower=lower.flat[i], upper=upper.flat[i], high_vol=high_vol)
        where = "" if price.ndim == 0 else f" (element {i})"
        raise InvalidInput(f"no implied volatility for price {price.flat[i]:.6g}{where}: {reason}")
    result = elementwise.find_root(_price_gap, IV_BRACKET, args=(call, spot, strike, t, rate, q, price))
    vols = np.where((reasons == "") & result.success, result.x, np.nan)
    if errors == "raise" and np.isnan(vols).any():
        i = int(np.flatnonzero(np.isnan(vols))[0])
        raise InvalidInput(
            f"no implied volatility for price {price.flat[i]:.6g}: the solver did not converge"
        )
    return _out(vols)


def _price_gap(vol, call, spot, strike, t, rate, q, price):
    return bsm_price(call, spot, strike, t, rate, vol, q) - price


def binomial_price(right, spot, strike, t, rate, vol, dividend_yield=0.0, *, steps: int = 500, american=True):
    """The value of one option on a Cox-Ross-Rubinstein tree of ``steps`` steps:
    u = exp(vol sqrt(dt)), d = 1/u, p = (exp((rate - q) dt) - d) / (u - d). American options
    may be exercised at every node; European ones only at expiry."""
    right = Right.parse(right)
    m = _Market.of(right, spot, strike, t, rate, vol, dividend_yield)
    if m.spot.size != 1:
        raise InvalidInput("binomial_price values one option at a time: give numbers, not arrays")
    spot, strike, t, rate, vol, q = (float(x) for x in (m.spot, m.strike, m.t, m.rate, m.vol, m.q))
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidInput(f"steps must be a whole number of at least 1, not {steps!r}")
    sign = 1.0 if right is Right.CALL else -1.0
    if t == 0:
        return max(sign * (spot - strike), 0.0)
    if vol <= 0:
        raise InvalidInput("the binomial tree needs a positive volatility")
    dt = t / steps
    up = np.exp(vol * np.sqrt(dt))
    p = (np.exp((rate - q) * dt) - 1.0 / up) / (up - 1.0 / up)
    if not 0.0 < p < 1.0:
        raise InvalidInput(
            f"{steps} steps are too few for these inputs: the up probability {p:.4f} is outside (0, 1)"
        )
    discount = np.exp(-rate * dt)
    values = np.maximum(sign * (spot * up ** np.arange(-steps, steps + 1, 2) - strike), 0.0)
    for i in range(steps - 1, -1, -1):
        values = discount * (p * values[1:] + (1.0 - p) * values[:-1])
        if american:
            exercise = sign * (spot * up ** np.arange(-i, i + 1, 2) - strike)
            values = np.maximum(values, exercise)
    return float(values[0])


@dataclass(frozen=True)
class _Market:
    """Validated, broadcast inputs and the terms every formula shares."""

    call: np.ndarray
    spot: np.ndarray
    strike: np.ndarray
    t: np.ndarray
    rate: np.ndarray
    vol: np.ndarray
    q: np.ndarray
    disc_spot: np.ndarray
    disc_strike: np.ndarray
    sd: np.ndarray
    d1: np.ndarray
    d2: np.ndarray

    @classmethod
    def of(cls, right, spot, strike, t, rate, vol, dividend_yield) -> "_Market":
        call = _is_call(right)
        named = {
            "spot": spot,
            "strike": strike,
            "t": t,
            "rate": rate,
            "vol": vol,
            "dividend_yield": dividend_yield,
        }
        arrays = {}
        for name, value in named.items():
            try:
                arrays[name] = np.asarray(value, dtype="float64")
            except (TypeError, ValueError):
                raise InvalidInput(f"{name} must be a number or an array of numbers") from None
            if not np.isfinite(arrays[name]).all():
                raise InvalidInput(f"{name} must be finite")
        for name, strictly in (("spot", True), ("strike", True), ("t", False), ("vol", False)):
            bad = arrays[name] <= 0 if strictly else arrays[name] < 0
            if bad.any():
                value = arrays[name].flat[int(np.flatnonzero(bad)[0])]
                raise InvalidInput(
                    f"{name} must be {'positive' if strictly else 'zero or more'}, not {value:g}"
                )
        try:
            call, *values = np.broadcast_arrays(call, *arrays.values())
        except ValueError:
            raise InvalidInput("the option inputs' array shapes do not broadcast together") from None
        spot, strike, t, rate, vol, q = values
        disc_spot, disc_strike = spot * np.exp(-q * t), strike * np.exp(-rate * t)
        sd = vol * np.sqrt(t)
        log_moneyness = np.log(disc_spot / disc_strike)
        live = sd > 0
        safe_sd = np.where(live, sd, 1.0)
        # With no time value the option is worth its forward's intrinsic value: d = +-inf.
        dead = np.where(log_moneyness > 0, np.inf, -np.inf)
        d1 = np.where(live, log_moneyness / safe_sd + 0.5 * sd, dead)
        d2 = np.where(live, d1 - sd, dead)
        return cls(call, spot, strike, t, rate, vol, q, disc_spot, disc_strike, sd, d1, d2)


def _is_call(right) -> np.ndarray:
    """True for calls: right is a Right, 'call'/'put'/'C'/'P', booleans (True = call) or an array of them."""
    values = np.asarray(right)
    if values.dtype == bool:
        return values
    names = np.char.upper(np.char.strip(values.astype(str)))
    call, put = np.isin(names, ["CALL", "C"]), np.isin(names, ["PUT", "P"])
    if not (call | put).all():
        Right.parse(str(values.flat[int(np.flatnonzero(~(call | put))[0])]))  # raises, naming the value
    return call


def _out(values: np.ndarray):
    return float(values) if np.ndim(values) == 0 else values
