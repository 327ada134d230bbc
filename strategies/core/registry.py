"""Strategies by name, and where ml strategies look models up by reference."""

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, TypeVar

from marketdata.core.errors import InvalidInput
from strategies.core.base import Strategy
from strategies.core.config import StrategyConfig

if TYPE_CHECKING:
    from strategies.core.models.artifact import ModelArtifact
    from strategies.core.option_strategies import OptionStrategy

ModelRegistry = Callable[[str], "ModelArtifact | None"]
AnyStrategy = TypeVar("AnyStrategy", bound="Strategy | OptionStrategy")

_REGISTRY: dict[str, "type[Strategy | OptionStrategy]"] = {}
# Strategies whose modules are slow to import (they load the model libraries): imported when asked for.
_ON_DEMAND = {"ml_classifier": "strategies.core.ml"}
_MODEL_REGISTRY: list[ModelRegistry] = []  # the installed one, if any


def register(cls: type[AnyStrategy]) -> type[AnyStrategy]:
    _REGISTRY[cls.name] = cls
    return cls


def strategy_names() -> list[str]:
    _load_builtins()
    return sorted({*_REGISTRY, *_ON_DEMAND})


def strategy_class(name: str) -> "type[Strategy | OptionStrategy]":
    """The class of a strategy name (an OptionStrategy subclass for those that trade options)."""
    _load_builtins()
    if name in _ON_DEMAND:
        import_module(_ON_DEMAND[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidInput(f"unknown strategy {name!r}; known: {', '.join(strategy_names())}") from None


def strategy_build(config: StrategyConfig) -> "Strategy | OptionStrategy":
    """A strategy instance for the config, its parameters validated."""
    return strategy_class(config.strategy)(config)


def _load_builtins() -> None:
    from strategies.core import builtin, option_strategies  # noqa: F401  (they register the built-in strategies)


def model_registry_install(registry: ModelRegistry | None) -> None:
    """Let ml strategies look their `model` reference up in a registry: it returns the artifact a
    reference names, or None for one it does not know (then the reference is a file path)."""
    _MODEL_REGISTRY[:] = [] if registry is None else [registry]


def model_registry() -> ModelRegistry | None:
    return _MODEL_REGISTRY[0] if _MODEL_REGISTRY else None
