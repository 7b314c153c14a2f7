"""Consent.version was a CharField that shadowed ClinicalRecord.version (the optimistic-concurrency
counter): keep the text as `form_version` and restore the integer counter."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("participants", "0001_initial")]

    operations = [
        migrations.RenameField("consent", "version", "form_version"),
        migrations.RenameField("historicalconsent", "version", "form_version"),
        migrations.AlterField(
            "consent", "form_version", models.CharField(max_length=20, verbose_name="consent form version")
        ),
        migrations.AlterField(
            "historicalconsent", "form_version", models.CharField(max_length=20, verbose_name="consent form version")
        ),
        migrations.AddField("consent", "version", models.PositiveIntegerField(default=1, editable=False)),
        migrations.AddField("historicalconsent", "version", models.PositiveIntegerField(default=1, editable=False)),
    ]
