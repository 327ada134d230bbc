from django.db import models

from marketdata.choices import TimeframeChoices
from marketdata.models import Instrument


class ComputedFeatures(models.Model):
    """The features of one feature set version over one instrument's bars of one timeframe, from
    its first stored bar to last_ts: the matrix is a Parquet file in the artifact storage."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="computed_features")
    timeframe = models.CharField(max_length=3, choices=TimeframeChoices.choices)
    feature_set = models.CharField(max_length=64, help_text="The feature set's name.")
    version = models.CharField(max_length=12, help_text="The feature set's content hash.")
    first_ts = models.DateTimeField()
    last_ts = models.DateTimeField()
    rows = models.PositiveIntegerField()
    path = models.CharField(max_length=500, help_text="The Parquet file of the matrix.")
    computed_at = models.DateTimeField(help_text="Bars ingested after this are not in the matrix.")

    class Meta:
        db_table = "computed_features"
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "timeframe", "version"], name="computed_features_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feature_set} {self.version} {self.instrument_id} {self.timeframe}"
