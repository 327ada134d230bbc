"""The compiled kernel: the engine's fills, costs and sizing for one symbol and a signal array.

It reproduces, bar for bar, what the event loop does with Strategy.orders_for_signal and the
SimulatedBroker (market orders, fixed slippage, the three commission parts, equity-fraction /
notional / fixed-fractional / quantity sizing) and builds its trades with the ledger's arithmetic
(execution.core.ledger.round_trips), so trades and equity are the same (property-tested).
Compiled once and cached on disk by numba.
"""

import math

import numpy as np
from numba import njit

from backtests.core.results import BacktestConfig
from execution.core.ledger import round_trips
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, SIGNAL_LONG, SIGNAL_SHORT, Strategy

SIZING_CODES = {"equity_fraction": 0, "notional": 1, "fixed_fractional": 2, "qty": 3}


@njit(cache=True)
def _commission(qty, price, per_trade, per_share, minimum, bps):
    share_part = max(minimum, per_share * qty) if per_share > 0 else 0.0
    return per_trade + share_part + bps / 10_000 * qty * price


@njit(cache=True)
def _affordable(budget, price, whole, per_trade, per_share, minimum, bps):
    unit = price * (1 + bps / 10_000) + per_share
    qty = max(0.0, (budget - per_trade) / unit)
    if whole:
        qty = float(math.floor(qty + 1e-9))
        while (
            qty > 0
            and qty * price + _commission(qty, price, per_trade, per_share, minimum, bps) > budget + 1e-9
        ):
            qty -= 1.0
    elif (
        per_share > 0
        and qty > 0
        and qty * price + _commission(qty, price, per_trade, per_share, minimum, bps) > budget
    ):
        qty = max(0.0, (budget - per_trade - minimum) / (price * (1 + bps / 10_000)))
    return qty


@njit(cache=True)
def _kernel(
    opens,
    closes,
    codes,
    next_open,
    cash0,
    sizing,
    size,
    whole,
    allow_short,
    per_trade,
    per_share,
    minimum,
    bps,
    slip_bps,
):
    n = len(closes)
    equity = np.empty(n)
    cash_out = np.empty(n)
    exposure = np.empty(n)
    cap = 2 * int(np.count_nonzero(codes)) + 2
    f_bar = np.empty(cap, dtype=np.int64)
    f_sign = np.empty(cap, dtype=np.int64)
    f_qty = np.empty(cap)
    f_price = np.empty(cap)
    f_comm = np.empty(cap)
    nf = 0
    traded = 0.0  # summed in fill order, as the portfolio sums it
    cash = cash0
    pos = 0.0
    # Orders waiting for the next open: a close of `pend_close` units (signed side), then an opening
    # order of side `pend_side` sized by (`pend_kind`, `pend_size`).
    pend_close = 0.0
    pend_side = 0
    pend_kind = -1
    pend_size = 0.0
    for i in range(n):
        for phase in range(2):
            if phase == 0:
                if not next_open or (pend_close == 0.0 and pend_side == 0):
                    continue
                price = opens[i]
                close_qty, side, kind, amount = pend_close, pend_side, pend_kind, pend_size
                pend_close, pend_side = 0.0, 0
            else:
                code = codes[i]
                if code == 0:
                    continue
                # What orders_for_signal builds, from the position held at the signal.
                close_qty = 0.0
                side = 0
                if (
                    code == SIGNAL_FLAT
                    or (pos < 0 and code == SIGNAL_LONG)
                    or (pos > 0 and code == SIGNAL_SHORT)
                ):
                    close_qty = -pos
                    held = 0.0
                else:
                    held = pos
                if not (code == SIGNAL_SHORT and not allow_short) and code != SIGNAL_FLAT and held == 0.0:
                    side = 1 if code == SIGNAL_LONG else -1
                kind = sizing
                amount = size
                if side != 0 and sizing == 2:  # fixed fractional: money from equity at the signal
                    amount = size * (cash + pos * closes[i])
                    kind = 1
                    if not amount > 0:
                        side = 0
                if side != 0 and sizing == 3:
                    amount = math.floor(size) if whole else size
                    if not amount > 0:
                        side = 0
                if next_open:
                    pend_close, pend_side, pend_kind, pend_size = close_qty, side, kind, amount
                    continue
                price = closes[i]
            # Execute: first the close (reduce-only), then the opening order.
            if close_qty != 0.0 and pos != 0.0 and (pos > 0) != (close_qty > 0):
                sign = 1 if close_qty > 0 else -1
                qty = min(abs(close_qty), abs(pos))
                fill_price = price * (1 + sign * slip_bps / 10_000)
                comm = _commission(qty, fill_price, per_trade, per_share, minimum, bps)
                pos += sign * qty
                if abs(pos) < 1e-12:
                    pos = 0.0
                cash -= sign * qty * fill_price + comm
                traded += qty * fill_price
                f_bar[nf], f_sign[nf], f_qty[nf], f_price[nf], f_comm[nf] = i, sign, qty, fill_price, comm
                nf += 1
            if side != 0:
                fill_price = price * (1 + side * slip_bps / 10_000)
                if kind == 0:
                    mark = price if phase == 0 else closes[i]
                    value = cash + pos * mark
                    budget = amount * max(0.0, value - abs(pos) * mark)
                    qty = _affordable(budget, fill_price, whole, per_trade, per_share, minimum, bps)
                elif kind == 1:
                    qty = amount / fill_price
                    qty = math.floor(qty + 1e-9) if whole else qty
                else:
                    qty = amount
                if qty > 0:
                    comm = _commission(qty, fill_price, per_trade, per_share, minimum, bps)
                    pos += side * qty
                    cash -= side * qty * fill_price + comm
                    traded += qty * fill_price
                    f_bar[nf], f_sign[nf], f_qty[nf], f_price[nf], f_comm[nf] = i, side, qty, fill_price, comm
                    nf += 1
        value = cash + pos * closes[i]
        equity[i] = value
        cash_out[i] = cash
        exposure[i] = abs(pos) * closes[i] / value if value > 0 else 0.0
    return (
        equity,
        cash_out,
        exposure,
        f_bar[:nf],
        f_sign[:nf],
        f_qty[:nf],
        f_price[:nf],
        f_comm[:nf],
        traded,
    )


def run_kernel(strategy: Strategy, config: BacktestConfig, first: int):
    """The engine's fast path for a bound strategy that acts on no signal before bar first: every
    bar's equity, cash and exposure, the trades and the traded notional."""
    data = strategy.data
    codes = strategy.signal_arrays()[strategy.symbol]
    if first:  # warm-up bars: no signal acted on
        codes = codes.copy()
        codes[:first] = NO_SIGNAL
    sizing = strategy.config.sizing
    equity, cash, exposure, bars, signs, qtys, prices, comms, traded = _kernel(
        data.open,
        data.close,
        codes,
        config.fill_timing == "next_open",
        float(config.initial_capital),
        SIZING_CODES[sizing.mode],
        float(sizing.value),
        sizing.whole_shares,
        strategy.config.risk.allow_short,
        float(config.commission_per_trade),
        float(config.commission_per_share),
        float(config.commission_minimum),
        float(config.commission_bps),
        float(config.slippage_bps),
    )
    trades = round_trips(strategy.symbol, data.ts, bars, signs, qtys, prices, comms)
    return equity, cash, exposure, trades, traded
