"""Fixtures of the backtest run tests: a private artifact folder and stored synthetic bars."""

from datetime import UTC, datetime

import pytest

from marketdata.services import ingestion_run_create, ingestion_run_execute


@pytest.fixture
def artifacts(settings, tmp_path):
    """Reports go to a temporary folder, never to var/."""
    settings.ARTIFACT_STORAGE = tmp_path / "artifacts"
    return settings.ARTIFACT_STORAGE


def ingest_synthetic(symbol: str, start: datetime, end: datetime, timeframe: str = "1d") -> None:
    run = ingestion_run_create(
        provider="synthetic", symbols=[symbol], timeframe=timeframe, start=start, end=end, params={"seed": 7}
    )
    ingestion_run_execute(run=run)


@pytest.fixture
def aaa():
    """Two years of synthetic daily AAA bars (seed 7), stored through the ingestion service."""
    ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    return "AAA"
