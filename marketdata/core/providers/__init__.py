"""Data providers: where bars come from (synthetic, files, Alpaca)."""
