"""Reads of the OMS for monitoring: each strategy version's account (cash, positions, fills) as it
stood at a time, its positions marked at the latest closes stored by then.

An account's state at a time t is its state now less every fill after t (the fills are the only
thing that moves cash and positions), so the equity at the previous close, and so the day's P&L, is
exact whenever it is asked, with no earlier snapshot needed.

The trading day is New York's: the day's P&L is the equity now less the equity at the day's start
(00:00 New York, when the previous session's closes are the marks).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

from execution.core.ledger import TradeLedger
from execution.models import Position, TradingAccount
from execution.selectors import fill_list
from marketdata.core.bars import Timeframe
from marketdata.models import Instrument, PriceBar
from strategies.core.types import Fill as CoreFill
from strategies.core.types import Side
from strategies.models import StrategyVersion

NEW_YORK = ZoneInfo("America/New_York")
SESSION_CLOSE = time(16, 0)  # US equities; a daily bar's close is known from then
ZERO = Decimal(0)


def trading_day(at: datetime) -> date:
    """The New York date of a time."""
    return at.astimezone(NEW_YORK).date()


def day_start(day: date) -> datetime:
    """00:00 New York of a day: the marks then are the previous session's closes."""
    return datetime.combine(day, time(0), NEW_YORK)


def day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class Mark:
    price: Decimal
    known_at: datetime  # a daily bar's session close, an intraday bar's end


def closes_get(*, symbols: set[str], at: datetime) -> dict[str, Mark]:
    """The latest close of each symbol known at `at` (from any stored timeframe; the one known
    last wins): a daily bar's from 16:00 New York of its session, an intraday bar's from its end.
    One query per timeframe."""
    marks: dict[str, Mark] = {}
    if not symbols:
        return marks
    for timeframe in Timeframe:
        if timeframe is Timeframe.D1:
            # Daily bars are stamped 00:00 UTC of their session's date.
            cutoff = datetime.combine(trading_day(at - timedelta(hours=16)), time(0), ZoneInfo("UTC"))
        else:
            cutoff = at - timeframe.duration
        latest = PriceBar.objects.filter(
            instrument=OuterRef("pk"), timeframe=timeframe, ts__lte=cutoff
        ).order_by("-ts")
        rows = (
            Instrument.objects.filter(symbol__in=symbols)
            .annotate(
                last_ts=Subquery(latest.values("ts")[:1]), last_close=Subquery(latest.values("close")[:1])
            )
            .exclude(last_ts=None)
            .values_list("symbol", "last_ts", "last_close")
        )
        for symbol, ts, close in rows:
            if timeframe is Timeframe.D1:
                known = datetime.combine(ts.date(), SESSION_CLOSE, NEW_YORK)
            else:
                known = ts + timeframe.duration
            if symbol not in marks or known > marks[symbol].known_at:
                marks[symbol] = Mark(Decimal(str(close)), known)
    return marks


@dataclass(frozen=True)
class FillRow:
    symbol: str
    side: Side
    qty: Decimal
    notional: Decimal
    price: Decimal
    commission: Decimal
    ts: datetime

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is Side.BUY else -self.qty

    @property
    def cash_flow(self) -> Decimal:
        """What the fill did to the account's cash (as the OMS applies it)."""
        return -(self.notional if self.side is Side.BUY else -self.notional) - self.commission


@dataclass(frozen=True)
class AccountFigures:
    """An account (one strategy version in a mode, or a mode's accounts together: version None) at
    a time; money in Decimals."""

    mode: str
    version: StrategyVersion | None
    label: str
    initial_capital: Decimal
    cash: Decimal
    equity: Decimal
    equity_day_start: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    positions: int
    trade_pnls: tuple[float, ...]  # closed round trips, oldest first
    fills_day: int
    notional_day: Decimal
    unmarked: tuple[str, ...] = field(default=())

    @property
    def pnl_day(self) -> Decimal:
        return self.equity - self.equity_day_start

    @property
    def pnl_total(self) -> Decimal:
        return self.equity - self.initial_capital

    @property
    def exposure_pct(self) -> float:
        return float(self.gross_exposure / self.equity * 100) if self.equity > 0 else 0.0

    @property
    def turnover(self) -> float:
        """Notional traded since the day's start / the equity then."""
        return float(self.notional_day / self.equity_day_start) if self.equity_day_start > 0 else 0.0


@dataclass
class _Book:
    cash: Decimal
    qty: dict[str, Decimal]

    def rewound(self, fills: list[FillRow]) -> "_Book":
        """The book before these fills."""
        qty = dict(self.qty)
        cash = self.cash
        for fill in fills:
            cash -= fill.cash_flow
            qty[fill.symbol] = qty.get(fill.symbol, ZERO) - fill.signed_qty
        return _Book(cash, qty)


def _valued(book: _Book, marks: dict[str, Mark], cost: dict[str, Decimal]) -> tuple:
    """(equity, gross, net, open positions, symbols marked at their cost)."""
    gross = net = ZERO
    held = 0
    unmarked = []
    for symbol, qty in sorted(book.qty.items()):
        if not qty:
            continue
        held += 1
        mark = marks.get(symbol)
        if mark is None:
            unmarked.append(symbol)
        value = qty * (mark.price if mark is not None else cost.get(symbol, ZERO))
        gross += abs(value)
        net += value
    return book.cash + net, gross, net, held, unmarked


def account_figures_list(*, at: datetime, mode: str | None = None) -> list[AccountFigures]:
    """Every strategy version's account (of a mode, or of both) as at `at`; ordered by mode, then
    version. A fixed number of queries, whatever the accounts: accounts, positions, fills, and the
    closes at `at` and at the day's start."""
    accounts = TradingAccount.objects.select_related("strategy_version").order_by(
        "mode", "strategy_version_id"
    )
    if mode is not None:
        accounts = accounts.filter(mode=mode)
    accounts = list(accounts)
    if not accounts:
        return []
    keys = {(a.strategy_version_id, a.mode) for a in accounts}
    versions = {key[0] for key in keys}
    books: dict[tuple, _Book] = {key: _Book(ZERO, {}) for key in keys}
    cost: dict[tuple, dict[str, Decimal]] = defaultdict(dict)
    for a in accounts:
        books[(a.strategy_version_id, a.mode)].cash = a.cash
    for vid, pmode, symbol, qty, avg in Position.objects.filter(strategy_version_id__in=versions).values_list(
        "strategy_version_id", "mode", "symbol", "qty", "avg_price"
    ):
        if (vid, pmode) in books:
            books[(vid, pmode)].qty[symbol] = qty
            cost[(vid, pmode)][symbol] = avg
    fills: dict[tuple, list[FillRow]] = defaultdict(list)
    for vid, fmode, symbol, side, qty, notional, price, commission, ts in (
        fill_list()
        .filter(order__strategy_version_id__in=versions)
        .order_by("ts", "id")
        .values_list(
            "order__strategy_version_id",
            "order__mode",
            "traded_symbol",
            "traded_side",
            "qty",
            "notional",
            "price",
            "commission",
            "ts",
        )
    ):
        if (vid, fmode) in books:
            fills[(vid, fmode)].append(FillRow(symbol, Side(side), qty, notional, price, commission, ts))
            cost[(vid, fmode)].setdefault(symbol, price)
    start = day_start(trading_day(at))
    then = {key: books[key].rewound([f for f in fills[key] if f.ts > at]) for key in keys}
    opening = {key: books[key].rewound([f for f in fills[key] if f.ts > start]) for key in keys}
    symbols_then = {s for b in then.values() for s, q in b.qty.items() if q}
    symbols_opening = {s for b in opening.values() for s, q in b.qty.items() if q}
    marks_then = closes_get(symbols=symbols_then, at=at)
    marks_opening = closes_get(symbols=symbols_opening, at=start)
    figures = []
    for a in accounts:
        key = (a.strategy_version_id, a.mode)
        equity, gross, net, held, unmarked = _valued(then[key], marks_then, cost[key])
        equity_start = _valued(opening[key], marks_opening, cost[key])[0]
        todays = [f for f in fills[key] if start < f.ts <= at]
        figures.append(
            AccountFigures(
                mode=a.mode,
                version=a.strategy_version,
                label=f"{a.strategy_version.name} v{a.strategy_version.version}",
                initial_capital=a.initial_capital,
                cash=then[key].cash,
                equity=equity,
                equity_day_start=equity_start,
                gross_exposure=gross,
                net_exposure=net,
                positions=held,
                trade_pnls=_round_trip_pnls([f for f in fills[key] if f.ts <= at]),
                fills_day=len(todays),
                notional_day=sum((f.notional for f in todays), ZERO),
                unmarked=tuple(unmarked),
            )
        )
    return figures


def account_totals(figures: list[AccountFigures]) -> list[AccountFigures]:
    """Each mode's accounts together (label "account"), in the order the modes first appear."""
    by_mode: dict[str, list[AccountFigures]] = defaultdict(list)
    for each in figures:
        by_mode[each.mode].append(each)
    totals = []
    for mode, group in by_mode.items():

        def total(name: str, group=group) -> Decimal:
            return sum((getattr(f, name) for f in group), ZERO)

        totals.append(
            AccountFigures(
                mode=mode,
                version=None,
                label="account",
                initial_capital=total("initial_capital"),
                cash=total("cash"),
                equity=total("equity"),
                equity_day_start=total("equity_day_start"),
                gross_exposure=total("gross_exposure"),
                net_exposure=total("net_exposure"),
                positions=sum(f.positions for f in group),
                trade_pnls=tuple(p for f in group for p in f.trade_pnls),
                fills_day=sum(f.fills_day for f in group),
                notional_day=total("notional_day"),
                unmarked=tuple(sorted({s for f in group for s in f.unmarked})),
            )
        )
    return totals


def _round_trip_pnls(fills: list[FillRow]) -> tuple[float, ...]:
    """The P&L of each round trip the fills close (first in, first out; commissions included)."""
    ledger = TradeLedger()
    for fill in fills:
        ledger.record(
            CoreFill(
                "",
                fill.symbol,
                fill.side,
                float(fill.qty),
                float(fill.price),
                float(fill.commission),
                fill.ts,
                -1,
            )
        )
    return tuple(trade.pnl for trade in ledger.trades)
