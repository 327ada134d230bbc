"""Filters the apps' FilterSets share."""

import django_filters
from django import forms

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
