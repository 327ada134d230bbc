"""Instruments (option contracts among them), price bars, ingestion runs and their data-quality reports."""

from django.conf import settings
from django.db import models

from marketdata.choices import AssetClass, OptionRightChoices, RunStatus, TimeframeChoices

PRICE = {"max_digits": 20, "decimal_places": 8}
US_EQUITY_EXCHANGES = {"XNYS", "XNAS", "ARCX", "BATS", "IEXG", "XASE", "NYSE", "NASDAQ", "ARCA", "AMEX"}


class Instrument(models.Model):
    symbol = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices, default=AssetClass.EQUITY)
    exchange = models.CharField(max_length=16, default="XNYS")
    currency = models.CharField(max_length=3, default="USD")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

    @property
    def trades_xnys_sessions(self) -> bool:
        """US-listed stocks and ETFs: missing sessions are checked against the XNYS calendar."""
        return (
            self.asset_class in {AssetClass.EQUITY, AssetClass.ETF} and self.exchange in US_EQUITY_EXCHANGES
        )


class OptionContract(models.Model):
    """The terms of an option instrument (asset class option, symbol its OCC symbol)."""

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="option_contract"
    )
    underlying = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="option_contracts")
    expiry = models.DateField()
    strike = models.DecimalField(
        max_digits=8, decimal_places=3, help_text="In dollars; OCC strikes are in thousandths."
    )
    right = models.CharField(max_length=4, choices=OptionRightChoices.choices)
    multiplier = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["underlying", "expiry", "strike", "right"]
        indexes = [models.Index(fields=["underlying", "expiry"], name="optioncontract_underlying_exp")]
        constraints = [
            models.CheckConstraint(condition=models.Q(strike__gt=0), name="optioncontract_strike_positive"),
            models.CheckConstraint(
                condition=models.Q(multiplier__gt=0), name="optioncontract_multiplier_positive"
            ),
        ]

    def __str__(self) -> str:
        return str(self.instrument)


class PriceBar(models.Model):
    # No database FK constraint or separate index on instrument: a constraint trigger per row
    # made bulk loads far slower, and the unique (instrument, timeframe, ts) index already serves
    # lookups by instrument. PROTECT and the ingestion service (which creates the instrument
    # first) keep every reference valid.
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="bars", db_constraint=False, db_index=False
    )
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    ts = models.DateTimeField(help_text="Start of the bar (UTC); daily bars are stamped at 00:00 UTC.")
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(max_digits=28, decimal_places=8)
    source = models.CharField(max_length=32)
    ingested_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "timeframe", "ts"], name="pricebar_instrument_timeframe_ts"
            ),
            models.CheckConstraint(condition=models.Q(volume__gte=0), name="pricebar_volume_non_negative"),
            models.CheckConstraint(condition=models.Q(low__gt=0), name="pricebar_prices_positive"),
            models.CheckConstraint(
                condition=models.Q(high__gte=models.F("low")), name="pricebar_high_above_low"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.ts:%Y-%m-%d %H:%M}"


class IngestionRun(models.Model):
    provider = models.CharField(max_length=32)
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    rows_inserted = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ingestion #{self.pk} {self.provider} {self.timeframe} ({self.status})"


class QualityReport(models.Model):
    """The checks of one instrument's bars: from an ingestion run, or of stored bars (run empty)."""

    run = models.ForeignKey(
        IngestionRun, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="quality_reports")
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    first_ts = models.DateTimeField(null=True, blank=True)
    last_ts = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(null=True, blank=True)
    rows_checked = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)
    issues = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"quality {self.instrument} {self.timeframe} #{self.pk}"

    @property
    def ok(self) -> bool:
        return not self.rows_rejected and not self.issues
