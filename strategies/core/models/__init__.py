"""ML models for strategies, pure: honest validation splits (and, in time, the TradingModels)."""
