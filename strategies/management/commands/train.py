"""python manage.py train: cross-validate a model on stored bars, fit it, and register it."""

from django.core.management.base import BaseCommand, CommandError

from features.core.labels import label_spec_parse
from features.selectors import feature_set_get
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError
from quantsite.artifacts import artifact_location
from quantsite.cli import parse_param
from strategies.core.models.trading import MODELS
from strategies.services import model_train

# Short names on the command line.
ALIASES = {"lightgbm": "lightgbm_classifier"}
SHOWN = ("accuracy", "precision", "recall", "roc_auc", "log_loss", "ic")


class Command(BaseCommand):
    help = (
        "Train a model on a feature set's features and a label over stored bars: purged "
        "cross-validation (metrics per fold and overall), then a fit on every labelled row, kept in "
        "the model registry as a candidate. Prints the folds, the top features and the model's id."
    )

    def add_arguments(self, parser) -> None:
        names = ", ".join([*ALIASES, *MODELS])
        parser.add_argument("--model", default="lightgbm", help=f"one of {names}")
        parser.add_argument(
            "--feature-set", default="default", help="a name in configs/features/, or a YAML path"
        )
        parser.add_argument(
            "--label",
            default="fixed:5:0.02",
            help="fixed:HORIZON:THRESHOLD[:CLASSES] or triple:HORIZON[:PT[:SL]]",
        )
        parser.add_argument("--symbols", required=True, help="comma-separated")
        parser.add_argument("--timeframe", default="1d")
        parser.add_argument(
            "--cv", default="purged-kfold:5", help="purged-kfold:FOLDS or purged-walk-forward:FOLDS"
        )
        parser.add_argument(
            "--embargo", type=int, default=0, help="rows dropped from training after each test fold"
        )
        parser.add_argument(
            "--param", action="append", default=[], metavar="NAME=VALUE", help="a model parameter"
        )

    def handle(self, *args, **opts) -> None:
        symbols = [s.strip().upper() for s in opts["symbols"].split(",") if s.strip()]
        model_type = ALIASES.get(opts["model"], opts["model"])
        try:
            trained, result = model_train(
                model_type=model_type,
                feature_set=feature_set_get(name=opts["feature_set"]),
                label=label_spec_parse(opts["label"]),
                symbols=symbols,
                timeframe=Timeframe.parse(opts["timeframe"]),
                validation=opts["cv"],
                embargo=opts["embargo"],
                params=dict(map(parse_param, opts["param"])),
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{model_type} on {', '.join(symbols)} {trained.timeframe}: {trained.rows:,} rows, "
            f"feature set {trained.feature_set} ({trained.feature_set_version}), label {trained.label}, "
            f"{trained.validation}"
        )
        self.stdout.write("fold   train    test" + "".join(f"{name:>10}" for name in SHOWN))
        for fold in [*result.folds, result.overall]:
            name = "all" if fold.fold is None else str(fold.fold)
            figures = "".join(f"{_figure(fold.figures.get(n)):>10}" for n in SHOWN)
            self.stdout.write(f"{name:<4}{fold.train_rows:>8,}{fold.test_rows:>8,}{figures}")
        top = list(trained.importance.items())[:5]
        self.stdout.write("top features: " + ", ".join(f"{name} {value:.4g}" for name, value in top))
        where = artifact_location(trained.artifact_path)
        self.stdout.write(f"model #{trained.pk} ({trained.status}), artifact {where}")


def _figure(value) -> str:
    return "-" if value is None else f"{value:.3f}"
