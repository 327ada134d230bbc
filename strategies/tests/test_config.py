"""Strategy configs from YAML, and the clear errors of a bad one."""

import pytest

from marketdata.core.errors import InvalidInput
from strategies.core.config import StrategyConfig, strategy_config_load
from strategies.core.registry import strategy_build, strategy_names


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_a_yaml_config_loads_with_typed_parameters(tmp_path):
    path = write(
        tmp_path,
        """
strategy: momentum
name: momentum_v1
universe: [aaa, BBB]
timeframe: 1d
parameters: {fast: 5, slow: 30}
sizing: {mode: fixed_fractional, value: 0.25}
risk: {allow_short: true, max_position_pct: 40}
""",
    )

    config = strategy_config_load(path)
    strategy = strategy_build(config)

    assert config.universe == ["AAA", "BBB"]
    assert (strategy.params.fast, strategy.params.slow) == (5, 30)
    assert (config.sizing.mode, config.sizing.value, config.risk.max_position_pct) == (
        "fixed_fractional",
        0.25,
        40,
    )


def test_the_built_in_strategies_are_registered():
    assert strategy_names() == [
        "bull_put_spread",
        "buy_and_hold",
        "covered_call",
        "iron_condor",
        "mean_reversion",
        "ml_classifier",
        "momentum",
    ]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"fast": "ten"}, "strategy 'momentum' parameters: fast: Input should be a valid integer"),
        ({"fsat": 5}, "strategy 'momentum' parameters: fsat: unknown field"),
        ({"fast": 30, "slow": 20}, "fast \\(30\\) must be below slow \\(20\\)"),
    ],
)
def test_bad_parameters_name_the_parameter(parameters, message):
    with pytest.raises(InvalidInput, match=message):
        strategy_build(StrategyConfig(strategy="momentum", parameters=parameters))


def test_an_unknown_strategy_lists_the_known_ones():
    with pytest.raises(
        InvalidInput,
        match="unknown strategy 'momentun'; known: bull_put_spread, buy_and_hold, covered_call, "
        "iron_condor, mean_reversion, ml_classifier, momentum",
    ):
        strategy_build(StrategyConfig(strategy="momentun"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters: {fast: 5}\n", "strategy: Field required"),
        ("strategy: momentum\nsizing: {mode: equity_fraction, value: 2}\n", "at most 1, not 2.0"),
        ("strategy: momentum\ntimeframe: 2d\n", "timeframe: Input should be"),
        ("strategy: momentum\nuniverse: AAA\n", "universe: Input should be a valid list"),
        ("strategy: momentum\ncolour: red\n", "colour: unknown field"),
        ("- just\n- a list\n", "a strategy config is a mapping"),
        ("strategy: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_files_give_one_clear_line(tmp_path, text, message):
    with pytest.raises(InvalidInput, match=message):
        strategy_config_load(write(tmp_path, text))


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(InvalidInput, match=r"nope\.yaml: No such file or directory"):
        strategy_config_load(tmp_path / "nope.yaml")
