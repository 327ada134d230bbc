"""The read-only ViewSets of the API: a list and a detail, both read through an app's selector."""

from collections.abc import Callable

from django.db.models import QuerySet
from rest_framework import viewsets

from quantsite.db import row_get


class SelectorViewSet(viewsets.ReadOnlyModelViewSet):
    """rows: the app's list selector (a queryset with what is shown beside each row, in a fixed
    number of queries); noun: what a row is, for the 404 ("no position #7")."""

    rows: Callable[[], QuerySet]
    noun: str

    def get_queryset(self) -> QuerySet:
        return self.rows()

    def get_object(self):
        row = row_get(self.get_queryset(), self.kwargs["pk"], self.noun)
        self.check_object_permissions(self.request, row)
        return row
