"""Strategies by name."""

from marketdata.core.errors import InvalidInput
from strategies.core.base import Strategy
from strategies.core.config import StrategyConfig

_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    _REGISTRY[cls.name] = cls
    return cls


def strategy_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def strategy_build(config: StrategyConfig) -> Strategy:
    """A strategy instance for the config, its parameters validated."""
    _load_builtins()
    try:
        cls = _REGISTRY[config.strategy]
    except KeyError:
        raise InvalidInput(
            f"unknown strategy {config.strategy!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None
    return cls(config)


def _load_builtins() -> None:
    from strategies.core import builtin  # noqa: F401  (registers the built-in strategies)
