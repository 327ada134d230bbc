"""python manage.py lookahead on backtesting.py's GOOG.csv."""

from io import StringIO
from pathlib import Path

import backtesting
import pytest
from django.core.management import CommandError, call_command

from backtests.tests.test_overfitting import Peeking
from strategies.core import registry

GOOG = Path(backtesting.__file__).parent / "test" / "GOOG.csv"


def lookahead(*args: str) -> list[str]:
    out = StringIO()
    call_command("lookahead", "--csv", str(GOOG), "--symbols", "GOOG", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_causal_strategy_is_clean():
    assert lookahead("--strategy", "mean_reversion") == [
        "mean_reversion on GOOG: 2,148 bars, cut at 1,074, 1,288, 1,503, 1,718, 1,933",
        "clean: on every prefix the signals and indicators equal the full run's",
    ]


def test_a_strategy_reading_the_next_bar_fails_naming_the_bar(monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, Peeking.name, Peeking)
    out = StringIO()

    with pytest.raises(CommandError, match="lookahead: 2 of 2 cuts differ"):
        call_command(
            "lookahead",
            *(
                "--csv",
                str(GOOG),
                "--symbols",
                "GOOG",
                "--strategy",
                Peeking.name,
                "--cut",
                "500",
                "--cut",
                "1000",
            ),
            stdout=out,
        )

    lines = out.getvalue().splitlines()
    assert lines[0] == f"{Peeking.name} on GOOG: 2,148 bars, cut at 500, 1,000"
    assert lines[1].startswith("cut 500: signals differ at bar 499 (2006-08-")
    assert lines[2].startswith("cut 1,000: signals differ at bar 999 (2008-08-")
    assert "truncated run []" in lines[1]


def test_bad_cuts_and_missing_symbols_are_refused():
    with pytest.raises(CommandError, match="a cut must leave 1 to 2147 of the 2148 bars, not \\[3000\\]"):
        lookahead("--strategy", "momentum", "--cut", "3000")
    with pytest.raises(CommandError, match="give --symbols"):
        call_command("lookahead", "--strategy", "momentum")
