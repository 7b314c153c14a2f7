"""The medical monitor role: approves emergency code breaks (ICH E6(R3) 4.2). Its permissions are
synced after migrate (trial.core.apps)."""

from django.db import migrations


def create_group(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("auth", "Group").objects.get_or_create(name="medical_monitor")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_roles")]
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
