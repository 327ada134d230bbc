"""Execution, pure: costs, positions and portfolio, the trade ledger, the simulated broker."""
