"""Market data, pure: bar frames, providers, synthetic data and quality checks (no Django)."""
