"""Reads of the risk app: the trading states of every scope at once (for lists of strategies)."""

from risk.core.state import TradingState, strictest
from risk.models import GLOBAL, TradingStateRecord


def trading_state_records_get() -> dict[str, TradingStateRecord]:
    """Every scope's recorded state ("global", "version:<id>"), in one query; a scope without a
    record is ACTIVE."""
    return {record.scope: record for record in TradingStateRecord.objects.select_related("changed_by")}


def effective_state(records: dict[str, TradingStateRecord], scope: str) -> TradingState:
    """The state a scope trades under: the stricter of the platform's and its own."""
    states = [TradingState(records[s].state) for s in (GLOBAL, scope) if s in records]
    return strictest(*states)
