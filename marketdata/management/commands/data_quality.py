"""python manage.py data_quality: check stored bars, keep the report, print a summary."""

from django.core.management.base import BaseCommand, CommandError

from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError
from marketdata.models import Instrument
from marketdata.selectors import instrument_get
from marketdata.services import quality_report_create


class Command(BaseCommand):
    help = "Run the data-quality checks on stored bars (all instruments with bars unless --symbol)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbol", default="", help="one or more symbols, comma-separated")
        parser.add_argument("--timeframe", default="1d")

    def handle(self, *args, **opts) -> None:
        try:
            timeframe = Timeframe.parse(opts["timeframe"])
            if opts["symbol"]:
                instruments = [
                    instrument_get(symbol=s.strip()) for s in opts["symbol"].split(",") if s.strip()
                ]
            else:
                instruments = list(Instrument.objects.filter(bars__timeframe=timeframe).distinct())
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if not instruments:
            raise CommandError(f"no stored {timeframe} bars to check")
        clean = 0
        for instrument in instruments:
            report = quality_report_create(instrument=instrument, timeframe=timeframe)
            span = f"{report.first_ts:%Y-%m-%d}..{report.last_ts:%Y-%m-%d}" if report.first_ts else "no bars"
            verdict = (
                "ok" if report.ok else f"{report.rows_rejected} bad row(s), {len(report.issues)} issue(s)"
            )
            self.stdout.write(
                f"{instrument.symbol:<8} {timeframe:<4} {report.rows_checked:>9,} bars  {span}  {verdict}"
            )
            for issue in report.issues:
                examples = f" (e.g. {', '.join(issue['examples'][:3])})" if issue["examples"] else ""
                self.stdout.write(f"    {issue['message']}{examples}")
            clean += report.ok
        self.stdout.write(f"data quality: {clean} of {len(instruments)} instrument(s) clean")
