"""The circuit breakers of the risk policy: the drawdown kill switch and the daily loss limit.

Both compare money with money (the limit is equity x pct / 100), so a loss exactly at the limit does
not trip them: only one beyond it does (the seed: "exceeds").
"""

from collections.abc import Sequence

import numpy as np

from risk.core.policy import RiskLimits, RiskPolicy


class CircuitBreaker:
    def __init__(self, *, max_drawdown_pct: float, daily_loss_limit_pct: float) -> None:
        self.max_drawdown_pct = float(max_drawdown_pct)
        self.daily_loss_limit_pct = float(daily_loss_limit_pct)

    @classmethod
    def from_policy(cls, policy: RiskPolicy | RiskLimits) -> "CircuitBreaker":
        limits = policy.resolved() if isinstance(policy, RiskPolicy) else policy
        return cls(max_drawdown_pct=limits.max_drawdown_pct, daily_loss_limit_pct=limits.daily_loss_limit_pct)

    def drawdown_limit(self, peak_equity: float) -> float:
        """The largest fall from peak_equity that does not trip the kill switch, in money."""
        return peak_equity * self.max_drawdown_pct / 100

    def daily_loss_limit(self, session_start_equity: float) -> float:
        return session_start_equity * self.daily_loss_limit_pct / 100

    def drawdown_exceeded(self, peak_equity: float, equity: float) -> bool:
        """Whether equity lies further below peak_equity than the limit (always, once the peak is not
        positive: nothing is left to trade)."""
        return not peak_equity > 0 or peak_equity - equity > self.drawdown_limit(peak_equity)

    def check_daily_loss(self, session_start_equity: float, equity: float) -> bool:
        """Whether the loss since the session's start equity exceeds the daily limit."""
        return session_start_equity - equity > self.daily_loss_limit(session_start_equity)

    def check_drawdown(self, equity_curve: Sequence[float] | np.ndarray) -> bool:
        """The seed's contract: True (active) when the curve's drawdown from its running peak exceeds
        max_drawdown_pct anywhere along it (a kill switch stays tripped); a curve with a value that
        is not finite trips it too (fail closed)."""
        curve = np.asarray(equity_curve, dtype=float)
        if curve.size == 0:
            return False
        if not np.isfinite(curve).all():
            return True
        peak = np.maximum.accumulate(curve)
        return bool(((peak <= 0) | (peak - curve > peak * self.max_drawdown_pct / 100)).any())
