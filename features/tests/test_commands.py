"""python manage.py features: stored bars through the cache, or a file's bars."""

import re
from io import StringIO
from pathlib import Path

import backtesting
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from features.models import ComputedFeatures
from features.selectors import feature_set_get

GOOG = Path(backtesting.__file__).parent / "test" / "GOOG.csv"  # backtesting.py's reference data


def run(*args) -> list[str]:
    out = StringIO()
    call_command("features", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.mark.django_db
def test_stored_bars_go_through_the_cache(aaa, artifacts, tmp_path):
    version = feature_set_get(name="default").version

    first = run("--symbols", "AAA", "--out", str(tmp_path / "aaa.parquet"))
    second = run("--symbols", "aaa")

    assert first[0] == (
        f"feature set default (version {version}) on AAA 1d, stored bars, through the feature cache: "
        "502 rows x 23 features, warm-up 199 bars"
    )
    assert re.fullmatch(r"  rsi_14 +446 values  last \d+\.\d+", first[1])  # 502 rows less 56 of warm-up
    assert len(first) == 1 + 23 + 1
    assert first[-1] == f"features: {tmp_path / 'aaa.parquet'}"
    assert second == first[:-1]  # the same figures, read from the cache
    assert ComputedFeatures.objects.count() == 1
    assert len(pd.read_parquet(tmp_path / "aaa.parquet")) == 502


def test_a_files_bars_are_computed_without_the_database(tmp_path):
    lines = run(
        "--symbols", "GOOG", "--csv", str(GOOG), "--feature-set", "default", "--out", str(tmp_path / "f.csv")
    )

    version = feature_set_get(name="default").version
    assert lines[0] == (
        f"feature set default (version {version}) on GOOG 1d, {GOOG}: "
        "2,148 rows x 23 features, warm-up 199 bars"
    )
    assert pd.read_csv(tmp_path / "f.csv").shape == (2148, 24)  # the time, then the features


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--symbols", "AAA", "--feature-set", "nope"),
            "no feature set 'nope' in .*configs/features; the sets: default",
        ),
        (("--symbols", "AAA,BBB", "--csv", str(GOOG)), "--csv holds one symbol's bars"),
        (("--symbols", "AAA", "--out", "f.txt"), "--out must end in .parquet or .csv, not 'f.txt'"),
        (("--symbols", "AAA", "--timeframe", "2d"), "unknown timeframe '2d'"),
    ],
)
def test_bad_requests_say_why(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
