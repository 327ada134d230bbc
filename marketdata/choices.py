from django.db import models

from marketdata.core.bars import Timeframe
from marketdata.core.options import Right


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    ETF = "etf", "ETF"
    OPTION = "option", "Option"
    FX = "fx", "FX"
    CRYPTO = "crypto", "Crypto"
    FUTURE = "future", "Future"


TimeframeChoices = models.TextChoices("TimeframeChoices", [(t.name, (t.value, t.value)) for t in Timeframe])

OptionRightChoices = models.TextChoices(
    "OptionRightChoices", [(r.name, (r.value, r.value.title())) for r in Right]
)


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Loaded with rejected rows"
    FAILED = "failed", "Failed"
