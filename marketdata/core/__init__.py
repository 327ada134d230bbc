"""Market data, pure: bar frames, providers, synthetic data, quality checks, and option contracts,
pricing and chains (no Django)."""
