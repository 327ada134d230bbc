"""Features, pure: the built-in indicators, versioned feature sets and the pipeline (no Django)."""
