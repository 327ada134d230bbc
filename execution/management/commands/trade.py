"""python manage.py trade: run a strategy version's trading session in the foreground.

--replay FILE (or --replay stored) replays bars through it, as fast as it can or at --speed; without
--replay it trades each new stored bar as its ingestion is announced, until interrupted.
"""

import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from backtests.core.results import BacktestConfig
from execution.choices import BrokerName, TradingMode
from execution.models import Position, TradingAccount
from execution.trading_services import TradingSession, replay_bars, trading_check, trading_session_live
from marketdata.core.bars import Timeframe
from marketdata.core.calendar import day_range, parse_day
from marketdata.core.errors import ApplicationError
from marketdata.selectors import csv_bars_get, stored_bars_get
from quantsite.cli import user_named
from strategies.models import StrategyVersion

DEFAULT_REPLAYED = 252  # bars replayed when --start is not given; the ones before are history


class Command(BaseCommand):
    help = (
        "Trade a strategy version (paper or live) bar by bar: strategy -> risk -> OMS -> broker. "
        "--replay FILE|stored replays bars; without it, new stored bars are traded as they are ingested."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--strategy", type=int, required=True, help="the strategy version's id")
        parser.add_argument("--mode", choices=TradingMode.values, default=TradingMode.PAPER)
        parser.add_argument("--broker", choices=BrokerName.values, default=BrokerName.SIMULATED)
        parser.add_argument("--capital", default="10000", help="the paper account's cash at the start")
        parser.add_argument("--replay", help="a CSV/Parquet file of the strategy's (one) symbol, or 'stored'")
        parser.add_argument("--start", help="first replayed day, YYYY-MM-DD (the bars before it are history)")
        parser.add_argument("--speed", default="max", help="'max', or e.g. 100x: a bar every duration/100")
        parser.add_argument("--user", help="who runs it (a user name), for the audit trail")

    def handle(self, *args, **opts) -> None:
        try:
            version = StrategyVersion.objects.filter(pk=opts["strategy"]).first()
            if version is None:
                raise CommandError(f"no strategy version #{opts['strategy']}")
            trading_check(version=version, mode=opts["mode"], broker=opts["broker"])  # before any bar is read
            timeframe = Timeframe.parse(version.config.get("timeframe", "1d"))
            frames = self._frames(opts, version, timeframe) if opts["replay"] else None
            start = day_range(parse_day(opts["start"], "--start"), None)[0] if opts["start"] else None
            if frames is not None and start is None:
                longest = max(frames.values(), key=len)
                start = longest.index[max(0, len(longest) - DEFAULT_REPLAYED)]
            history, steps = replay_bars(frames, start) if frames is not None else ({}, [])
            if frames is None:
                history = stored_bars_get(
                    symbols=version.config["universe"], timeframe=timeframe, start=None, end=None
                )
            session = TradingSession(
                version=version,
                mode=opts["mode"],
                broker=opts["broker"],
                capital=Decimal(opts["capital"]),
                history=history,
                costs=BacktestConfig(timeframe=timeframe),
                actor=user_named(opts["user"]),
            )
            self.stdout.write(f"trading {version} {opts['mode']} on {opts['broker']}")
            try:
                if frames is not None:
                    self._replay(session, steps, self._delay(opts["speed"], timeframe))
                else:
                    after = max(f.index[-1] for f in history.values())
                    self.stdout.write("waiting for new bars (Ctrl-C stops)")
                    trading_session_live(
                        session=session, timeframe=timeframe, after=after, stop=lambda: False
                    )
            except KeyboardInterrupt:
                self.stdout.write("stopped")
            finally:
                session.stop()
            self._summary(version, opts["mode"], session)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

    def _frames(self, opts, version, timeframe):
        symbols = version.config["universe"]
        if opts["replay"] == "stored":
            return stored_bars_get(symbols=symbols, timeframe=timeframe, start=None, end=None)
        if len(symbols) != 1:
            raise CommandError(
                f"a replay file holds one symbol's bars; {version} trades {', '.join(symbols)}"
            )
        bars = csv_bars_get(path=opts["replay"], symbol=symbols[0], timeframe=timeframe, start=None, end=None)
        return {symbols[0]: bars}

    def _replay(self, session, steps, delay: float) -> None:
        for step in steps:
            report = session.on_bars(step)
            if report.sent or report.refused:
                sent = ", ".join(f"{o.side} {o.qty:g} {o.symbol}" for o in report.sent) or "none"
                self.stdout.write(
                    f"{report.ts:%Y-%m-%d %H:%M} sent: {sent}; refused: {len(report.refused)}"
                    + "".join(f" ({'; '.join(r.message for r in d.reasons)})" for _, d in report.refused)
                )
            if delay:
                time.sleep(delay)
        self.stdout.write(f"replayed {len(steps):,} bar time(s)")

    def _summary(self, version, mode, session) -> None:
        account = TradingAccount.objects.get(strategy_version=version, mode=mode)
        held = Position.objects.filter(strategy_version=version, mode=mode).exclude(qty=0)
        positions = ", ".join(f"{p.symbol} {p.qty.normalize()} @ {p.avg_price:.4f}" for p in held) or "none"
        equity = session.portfolio.equity
        self.stdout.write(f"positions: {positions}")
        self.stdout.write(
            f"cash {account.cash:,.2f}, equity {equity:,.2f}, commission {account.commission_paid:,.2f}"
        )

    @staticmethod
    def _delay(speed: str, timeframe: Timeframe) -> float:
        if speed == "max":
            return 0.0
        factor = speed.removesuffix("x")
        try:
            return timeframe.duration.total_seconds() / float(factor)
        except ValueError:
            raise CommandError(f"--speed {speed!r}: write max or a factor such as 100x") from None
