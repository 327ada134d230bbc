"""Shared filters: a time with any offset is compared in UTC; one UTC cannot hold is refused."""

from datetime import UTC, datetime

import pytest
from django import forms

from quantsite.filters import UtcDateTimeField


def test_a_time_filter_applies_the_offset_and_refuses_what_utc_cannot_hold():
    field = UtcDateTimeField(required=False)

    assert field.clean("2024-01-01T00:00:00-17:02") == datetime(2024, 1, 1, 17, 2, tzinfo=UTC)
    assert field.clean("") is None
    with pytest.raises(forms.ValidationError, match="out of range in UTC"):
        field.clean("9999-12-31T23:59:59-05:00")
