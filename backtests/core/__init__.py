"""The backtest engine, metrics and reports, pure: importable from a notebook without Django."""
