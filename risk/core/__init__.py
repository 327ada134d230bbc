"""Risk, pure: the risk manager's decisions on orders, circuit breakers, trading states."""
