"""Filters the apps' FilterSets share."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

# The largest id a database key holds: a bigger number would overflow the query, not find nothing.
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 1 (a bad one is a 400, never a query error)."""

    field_class = IdField


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, as UTC: any offset the text carries is applied here (PostgreSQL takes
    offsets up to 15:59 only); a time UTC cannot hold is a 400."""

    def clean(self, value):
        value = super().clean(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("the time is out of range in UTC", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A time filter: ISO 8601, compared in UTC."""

    field_class = UtcDateTimeField
