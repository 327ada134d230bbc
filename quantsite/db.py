"""Database helpers the ORM lacks."""

from collections.abc import Iterable

from django.db import connections, models, router

from marketdata.core.errors import NotFound


def rows_update(rows: Iterable[models.Model], fields: list[str]) -> None:
    """Write `fields` of each row (all of one model) by primary key, in one executemany (pipelined
    on PostgreSQL): the writes of bulk_update without building its CASE expressions, which cost
    more than the writes themselves."""
    rows = list(rows)
    if not rows:
        return
    model = type(rows[0])
    connection = connections[router.db_for_write(model)]
    quote, meta = connection.ops.quote_name, model._meta
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def row_get(queryset: models.QuerySet, pk, what: str):
    """The row of queryset with primary key pk (an int, or text holding one); NotFound naming what
    ("position") otherwise."""
    try:
        return queryset.get(pk=int(pk))
    except (queryset.model.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"no {what} #{pk}") from None
