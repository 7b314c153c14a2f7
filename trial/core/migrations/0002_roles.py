"""Create one group per role (DEVELOPERS.md). Permissions are synced after migrate (trial.core.apps)."""

from django.db import migrations

ROLES = [
    "coordinator",
    "rater",
    "pharmacist",
    "investigator",
    "data_manager",
    "statistician_blinded",
    "statistician_unblinded",
    "dsmb",
    "administrator",
]


def create_groups(apps, schema_editor):  # type: ignore[no-untyped-def]
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length"), ("core", "0001_initial")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
