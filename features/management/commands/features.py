"""python manage.py features: compute a feature set over stored bars (through the cache) or a file's."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from features.core.pipeline import FeaturePipeline
from features.selectors import feature_set_get
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError, InvalidInput
from marketdata.selectors import csv_bars_get


class Command(BaseCommand):
    help = (
        "Compute a feature set (configs/features/<name>.yaml, or a YAML file) over the stored bars of "
        "some symbols, through the feature cache, or over a CSV/Parquet file's bars. Prints each "
        "feature's rows with a value and its last value; --out writes the matrix (.parquet or .csv)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--feature-set", default="default", help="a name in configs/features/, or a YAML path"
        )
        parser.add_argument("--symbols", required=True, help="comma-separated (one with --csv)")
        parser.add_argument("--timeframe", default="1d", help="1m, 5m, 15m, 1h or 1d (default 1d)")
        parser.add_argument("--csv", help="compute on this CSV/Parquet file's bars instead of stored ones")
        parser.add_argument("--out", help="write the features to this .parquet or .csv file")

    def handle(self, *args, **opts) -> None:
        symbols = [s.strip().upper() for s in opts["symbols"].split(",") if s.strip()]
        out = Path(opts["out"]) if opts["out"] else None
        if out is not None and out.suffix not in {".parquet", ".csv"}:
            raise CommandError(f"--out must end in .parquet or .csv, not {out.name!r}")
        try:
            timeframe = Timeframe.parse(opts["timeframe"])
            feature_set = feature_set_get(name=opts["feature_set"])
            if opts["csv"]:
                if len(symbols) != 1:
                    raise InvalidInput("--csv holds one symbol's bars: give one symbol")
                bars = csv_bars_get(
                    path=opts["csv"], symbol=symbols[0], timeframe=timeframe, start=None, end=None
                )
                features = FeaturePipeline(feature_set).compute(bars)
                source = opts["csv"]
            else:
                features = features_compute(feature_set=feature_set, symbols=symbols, timeframe=timeframe)
                source = "stored bars, through the feature cache"
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"feature set {feature_set.name} (version {feature_set.version}) on {', '.join(symbols)} "
            f"{timeframe}, {source}: {len(features):,} rows x {len(features.columns)} features, "
            f"warm-up {feature_set.warm_up} bars"
        )
        width = max(len(c) for c in features.columns)
        for column in features.columns:
            values = features[column]
            last = values.dropna()
            shown = f"{last.iloc[-1]:,.6g}" if len(last) else "none"
            self.stdout.write(f"  {column:<{width}}  {values.notna().sum():>9,} values  last {shown}")
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix == ".parquet":
                features.to_parquet(out)
            else:
                features.to_csv(out)
            self.stdout.write(f"features: {out}")
