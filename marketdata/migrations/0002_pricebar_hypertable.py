"""Make price bars a TimescaleDB hypertable where the extension can be loaded; otherwise nothing."""

from django.db import migrations

CHUNK_INTERVAL = "30 days"


def timescaledb_loadable(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if cursor.fetchone() is None:
        return False
    cursor.execute("SELECT current_setting('shared_preload_libraries')")
    return "timescaledb" in cursor.fetchone()[0]


def make_hypertable(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if not timescaledb_loadable(cursor):
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        # A hypertable's unique indexes must include the time column, the primary key too.
        cursor.execute("ALTER TABLE marketdata_pricebar DROP CONSTRAINT marketdata_pricebar_pkey")
        cursor.execute("ALTER TABLE marketdata_pricebar ADD PRIMARY KEY (id, ts)")
        cursor.execute(
            "SELECT create_hypertable('marketdata_pricebar', 'ts', migrate_data => true, "
            f"chunk_time_interval => INTERVAL '{CHUNK_INTERVAL}')"
        )


class Migration(migrations.Migration):
    dependencies = [("marketdata", "0001_initial")]
    operations = [migrations.RunPython(make_hypertable, migrations.RunPython.noop)]
