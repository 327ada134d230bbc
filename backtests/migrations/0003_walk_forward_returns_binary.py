"""Whole-span trial returns as raw float64 bytes instead of JSON. The returns are only read while a
run is assembled, so finished runs lose nothing by the column being replaced."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backtests", "0002_walk_forward"),
    ]

    operations = [
        migrations.RemoveField(model_name="walkforwardtrial", name="returns"),
        migrations.AddField(
            model_name="walkforwardtrial",
            name="returns",
            field=models.BinaryField(
                blank=True,
                help_text="Per-bar returns as little-endian float64 (whole-span trials only).",
                null=True,
            ),
        ),
    ]
