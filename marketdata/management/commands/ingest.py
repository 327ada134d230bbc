"""python manage.py ingest: load bars from a provider, validate them, print what happened."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from marketdata.core.calendar import day_range, last_closed_session, parse_day
from marketdata.core.errors import ApplicationError, InvalidInput
from marketdata.core.providers.synthetic import SAMPLE_UNIVERSE
from marketdata.selectors import rejected_rows_of
from marketdata.services import ingestion_run_create, ingestion_run_execute

SHOWN_REJECTIONS = 10


class Command(BaseCommand):
    help = "Ingest bars (synthetic, csv or alpaca), validate them and load the good rows."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--provider", required=True, help="synthetic, csv or alpaca")
        parser.add_argument("--symbols", default="", help="comma-separated symbols")
        parser.add_argument("--symbol", default="", help="the symbol of a CSV file's bars")
        parser.add_argument("--sample-universe", action="store_true", help="the 20 synthetic sample symbols")
        parser.add_argument("--path", help="CSV or Parquet file (provider csv)")
        parser.add_argument("--start", help="first day, YYYY-MM-DD")
        parser.add_argument("--end", help="last day, YYYY-MM-DD (default: the last closed XNYS session)")
        parser.add_argument("--years", type=int, help="instead of --start: this many years before --end")
        parser.add_argument("--timeframe", default="1d", help="1m, 5m, 15m, 1h or 1d")
        parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic provider")
        parser.add_argument("--timezone", default="UTC", help="timezone of naive times in a CSV file")
        parser.add_argument("--adjust", action="store_true", help="scale OHLC by Adj Close / Close")
        parser.add_argument(
            "--asset-class", default="", help="for new instruments: equity, etf, fx, crypto, ..."
        )
        parser.add_argument("--exchange", default="", help="for new instruments, e.g. XNYS")
        parser.add_argument("--currency", default="", help="for new instruments, e.g. USD")

    def handle(self, *args, **opts) -> None:
        try:
            run = ingestion_run_create(**self._request(opts))
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self._describe(run))
        try:
            ingestion_run_execute(run=run)
        except ApplicationError as exc:
            self._report(run)
            raise CommandError(exc.message) from None
        self._report(run)

    def _request(self, opts: dict) -> dict:
        provider = opts["provider"]
        symbols = [s for s in (opts["symbols"] or opts["symbol"]).split(",") if s.strip()]
        if opts["sample_universe"]:
            symbols += list(SAMPLE_UNIVERSE)
        params = {k: opts[k.replace("-", "_")] for k in ("asset_class", "exchange", "currency") if opts[k]}
        start = end = None
        if provider == "csv":
            params.update(path=opts["path"], timezone=opts["timezone"], adjust=opts["adjust"])
        else:
            params["seed"] = opts["seed"]
            last = parse_day(opts["end"], "--end") if opts["end"] else last_closed_session(timezone.now())
            if opts["start"]:
                first = parse_day(opts["start"], "--start")
            elif opts["years"]:
                first = last - timedelta(days=round(365.25 * opts["years"]))
            else:
                raise InvalidInput("give --start or --years")
            start, end = day_range(first, last)
        return {
            "provider": provider,
            "symbols": symbols,
            "timeframe": opts["timeframe"],
            "start": start,
            "end": end,
            "params": params,
        }

    def _describe(self, run) -> str:
        span = f" {run.start:%Y-%m-%d}..{run.end:%Y-%m-%d}" if run.start else f" {run.params['path']}"
        return f"ingestion run #{run.pk}: {run.provider} {run.timeframe}{span}, {len(run.symbols)} symbol(s)"

    def _report(self, run) -> None:
        self.stdout.write(
            f"inserted {run.rows_inserted:,}  updated {run.rows_updated:,}  "
            f"unchanged {run.rows_unchanged:,}  rejected {run.rows_rejected:,}  "
            f"in {run.duration_seconds:.2f} s  ({run.status})"
        )
        shown = rejected_rows_of(run, SHOWN_REJECTIONS)
        if shown:
            self.stdout.write(f"rejected rows (first {len(shown)} of {run.rows_rejected}):")
            for symbol, r in shown:
                self.stdout.write(f"  {symbol} row {r.row} ({r.ts or 'no time'}): {r.reason}")
        for report in run.reports.select_related("instrument").order_by("pk"):
            for issue in report.issues:
                self.stdout.write(f"  {report.instrument.symbol}: {issue['message']}")
