from django.db import models

from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce


class TradingMode(models.TextChoices):
    PAPER = "paper"
    LIVE = "live"


class AssetClass(models.TextChoices):
    EQUITY = "equity"
    OPTION = "option"  # its legs in OrderLeg; qty in units, prices net per unit per share


class BrokerName(models.TextChoices):
    SIMULATED = "simulated", "simulated (paper)"
    ALPACA = "alpaca"
    IB = "ib", "Interactive Brokers"


OrderStatusChoices = models.TextChoices("OrderStatusChoices", [(s.name, s.value) for s in OrderStatus])
OrderTypeChoices = models.TextChoices("OrderTypeChoices", [(t.name, t.value) for t in OrderType])
SideChoices = models.TextChoices("SideChoices", [(s.name, s.value) for s in Side])
TimeInForceChoices = models.TextChoices("TimeInForceChoices", [(t.name, t.value) for t in TimeInForce])
