"""The chain hash of a seal is neither unique nor indexed (see AuditSeal.chain_sha256)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_audit_seal_function"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditseal",
            name="chain_sha256",
            field=models.CharField(max_length=64),
        ),
    ]
