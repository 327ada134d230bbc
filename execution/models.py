"""Orders, their fills, and the positions and cash they make, per strategy version and mode.

Money and quantities are Decimals. An order is stored (NEW, with its client_order_id) before it is
sent, so a crash between the two never loses or duplicates it.

An option order is one Order (its symbol the underlying, no side of its own, qty in units, its limit
the net price per unit per share: a debit positive, a credit negative) with one OrderLeg per leg.
Its fills are recorded per leg (Fill.leg): contracts, and the money they moved (price x multiplier),
so that a Fill's price is always its notional over its qty and positions of OCC symbols count
contracts at a price per contract.
"""

from django.conf import settings
from django.db import models

from execution.choices import (
    AssetClass,
    BrokerName,
    OrderStatusChoices,
    OrderTypeChoices,
    SideChoices,
    TimeInForceChoices,
    TradingMode,
)
from strategies.core.types import OrderStatus
from strategies.models import StrategyVersion

OPEN_STATUSES = [s.value for s in OrderStatus if not s.terminal]  # orders still working (or unknown)
QTY = {"max_digits": 24, "decimal_places": 9}
PRICE = {"max_digits": 24, "decimal_places": 9}
# Cash moves by qty x price: 9 + 9 decimals, kept whole. Averages of prices keep as many.
MONEY = {"max_digits": 36, "decimal_places": 18}
AVERAGE = {"max_digits": 36, "decimal_places": 18}


class Order(models.Model):
    client_order_id = models.CharField(max_length=64)
    strategy_version = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    mode = models.CharField(max_length=8, choices=TradingMode.choices)
    broker = models.CharField(max_length=16, choices=BrokerName.choices)
    asset_class = models.CharField(max_length=8, choices=AssetClass.choices, default=AssetClass.EQUITY)
    symbol = models.CharField(max_length=32, help_text="An option order's underlying.")
    side = models.CharField(
        max_length=4,
        choices=SideChoices.choices,
        blank=True,
        help_text="Blank: an option order's legs have theirs.",
    )
    qty = models.DecimalField(**QTY, help_text="Shares, or an option order's units.")
    multiplier = models.PositiveIntegerField(
        default=1, help_text="Shares per contract of an option order's legs."
    )
    reduce_only = models.BooleanField(default=False, help_text="An option order that closes legs held.")
    order_type = models.CharField(max_length=16, choices=OrderTypeChoices.choices, default="market")
    limit_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_price = models.DecimalField(**PRICE, null=True, blank=True)
    tif = models.CharField(max_length=4, choices=TimeInForceChoices.choices, default="day")
    status = models.CharField(max_length=20, choices=OrderStatusChoices.choices, default="new")
    broker_status = models.CharField(max_length=32, blank=True)
    broker_order_id = models.CharField(max_length=64, blank=True)
    filled_qty = models.DecimalField(**QTY, default=0)
    avg_fill_price = models.DecimalField(**AVERAGE, null=True, blank=True)
    signal = models.CharField(max_length=200, help_text="The signal it came from (with the attempt, its id).")
    attempt = models.PositiveSmallIntegerField(default=1)
    reason = models.CharField(max_length=200, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it was rejected, canceled or left unknown.")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["strategy_version", "mode", "status"])]
        constraints = [
            models.UniqueConstraint(fields=["client_order_id"], name="one_order_per_client_order_id")
        ]

    def __str__(self) -> str:
        if self.asset_class == AssetClass.OPTION:
            legs = ", ".join(str(leg) for leg in self.legs.all())
            return f"{self.qty} x [{legs}] ({self.status}, {self.client_order_id})"
        return f"{self.side} {self.qty} {self.symbol} ({self.status}, {self.client_order_id})"


class OrderLeg(models.Model):
    """A leg of an option order: ratio contracts of an OCC symbol per unit, and what has filled."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="legs")
    index = models.PositiveSmallIntegerField(help_text="Its place in the order, from 0.")
    symbol = models.CharField(max_length=32, help_text="The OCC symbol.")
    side = models.CharField(max_length=4, choices=SideChoices.choices)
    ratio = models.PositiveIntegerField(default=1)
    filled_qty = models.DecimalField(**QTY, default=0, help_text="Contracts.")
    avg_fill_price = models.DecimalField(**AVERAGE, null=True, blank=True, help_text="Per share, as quoted.")

    class Meta:
        ordering = ["order", "index"]
        constraints = [
            models.UniqueConstraint(fields=["order", "index"], name="one_leg_per_place"),
            models.UniqueConstraint(fields=["order", "symbol"], name="one_leg_per_contract"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.ratio} {self.symbol}"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills", db_index=False)
    leg = models.ForeignKey(
        OrderLeg,
        on_delete=models.PROTECT,
        related_name="fills",
        null=True,
        blank=True,
        help_text="An option order's leg.",
    )
    execution_id = models.CharField(
        max_length=128,
        help_text="The broker's id of the execution; of an option order's leg: the broker's order id, "
        "the leg's OCC symbol and its cumulative contracts.",
    )
    qty = models.DecimalField(**QTY)
    notional = models.DecimalField(**MONEY, help_text="qty x price: the money the fill moved, exact.")
    price = models.DecimalField(**AVERAGE, help_text="notional / qty")
    commission = models.DecimalField(**MONEY, default=0)
    ts = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ts", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "execution_id"], name="one_fill_per_execution")
        ]

    def __str__(self) -> str:
        symbol = self.order.symbol if self.leg is None else self.leg.symbol
        return f"{self.qty} {symbol} @ {self.price} ({self.execution_id})"


class Position(models.Model):
    strategy_version = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="positions", db_index=False
    )
    mode = models.CharField(max_length=8, choices=TradingMode.choices)
    symbol = models.CharField(max_length=32)
    qty = models.DecimalField(**QTY, default=0, help_text="Signed: negative when short.")
    avg_price = models.DecimalField(**AVERAGE, default=0)
    realized_pnl = models.DecimalField(**MONEY, default=0)
    close_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A person asked to close it and the broker's orders live in the running session (the "
        "paper broker): the session sends the closing order at its next bar, then clears this.",
    )
    close_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["strategy_version", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["strategy_version", "mode", "symbol"], name="one_position")
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty} @ {self.avg_price}"


class TradingAccount(models.Model):
    """A strategy version's capital in a mode: its cash, moved by every fill."""

    strategy_version = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    mode = models.CharField(max_length=8, choices=TradingMode.choices)
    broker = models.CharField(max_length=16, choices=BrokerName.choices)
    initial_capital = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    commission_paid = models.DecimalField(**MONEY, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["strategy_version", "mode"], name="one_account")]

    def __str__(self) -> str:
        return f"{self.strategy_version} {self.mode}: cash {self.cash}"


class TradingSessionRecord(models.Model):
    """A trading session hosted by a worker: at most one runs per version and mode. It beats while
    it runs; one whose beat stopped (its worker died) is marked lost, and a new one may start."""

    class Status(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"  # its version left the stage that lets it trade
        REFUSED = "refused"  # a check before its first bar failed
        FAILED = "failed"  # it raised
        LOST = "lost"  # its beat stopped

    strategy_version = models.ForeignKey(StrategyVersion, on_delete=models.PROTECT, related_name="sessions")
    mode = models.CharField(max_length=8, choices=TradingMode.choices)
    broker = models.CharField(max_length=16, choices=BrokerName.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    host = models.CharField(max_length=200, help_text="The worker's host and process id.")
    steps = models.PositiveIntegerField(default=0, help_text="Bars traded.")
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    beat_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy_version", "mode"],
                condition=models.Q(status="running"),
                name="one_running_session",
            )
        ]

    def __str__(self) -> str:
        return f"{self.strategy_version} {self.mode} on {self.broker}: {self.status}"
