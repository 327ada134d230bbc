"""Data providers: where bars and option chains come from (synthetic, files, Alpaca)."""
