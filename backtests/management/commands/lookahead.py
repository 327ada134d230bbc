"""python manage.py lookahead: does a strategy read bars it should not have seen yet?"""

from django.core.management.base import BaseCommand, CommandError

from backtests.core.overfitting import lookahead_check
from backtests.management.options import strategy_config_from_options
from backtests.services import is_option_strategy
from marketdata.core.calendar import day_range, parse_day
from marketdata.core.errors import ApplicationError
from marketdata.selectors import csv_bars_get, stored_bars_get


class Command(BaseCommand):
    help = (
        "Run a strategy on all of a symbol's bars and again on prefixes of them (cut at 50..90% by "
        "default), and report the first bar before each cut where its signals or indicators differ: "
        "a strategy that only reads the past differs nowhere. Exits with an error when one does."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--strategy", help="momentum, mean_reversion, buy_and_hold, ml_classifier (or from --config)"
        )
        parser.add_argument("--config", help="a strategy config YAML (configs/strategies/*.yaml)")
        parser.add_argument("--symbols", default="", help="the symbol to check (the first one is used)")
        parser.add_argument("--timeframe", help="1m, 5m, 15m, 1h or 1d (default: the config's, or 1d)")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--start", help="first day, YYYY-MM-DD")
        parser.add_argument("--end", help="last day, YYYY-MM-DD")
        parser.add_argument("--csv", help="check on this CSV/Parquet file's bars instead of stored ones")
        parser.add_argument("--cut", type=int, action="append", help="a cut, in bars (repeatable)")

    def handle(self, *args, **opts) -> None:
        try:
            config = strategy_config_from_options(opts)
            if is_option_strategy(config):
                raise CommandError(
                    f"{config.strategy} trades options: it sees one session's chain at a time, and the "
                    "lookahead check replays share strategies' signals"
                )
            if not config.universe:
                raise CommandError("give --symbols (or a config with a universe)")
            symbol = config.universe[0]
            start, end = day_range(parse_day(opts["start"], "--start"), parse_day(opts["end"], "--end"))
            if opts["csv"]:
                bars = csv_bars_get(
                    path=opts["csv"], symbol=symbol, timeframe=config.timeframe, start=start, end=end
                )
            else:
                bars = stored_bars_get(symbols=[symbol], timeframe=config.timeframe, start=start, end=end)[
                    symbol
                ]
            report = lookahead_check(config, bars, cuts=opts["cut"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        cuts = ", ".join(f"{cut:,}" for cut in report.cuts)
        self.stdout.write(f"{config.strategy} on {symbol}: {len(bars):,} bars, cut at {cuts}")
        if report.clean:
            self.stdout.write("clean: on every prefix the signals and indicators equal the full run's")
            return
        for finding in report.findings:
            when = bars.index[finding.bar]
            self.stdout.write(
                f"cut {finding.cut:,}: {finding.what} differ at bar {finding.bar:,} ({when:%Y-%m-%d %H:%M}): "
                f"full run {finding.full}, truncated run {finding.truncated}"
            )
        raise CommandError(f"lookahead: {len(report.findings)} of {len(report.cuts)} cuts differ")
