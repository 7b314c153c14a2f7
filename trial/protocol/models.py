"""The protocol's rows in the database: what other records point at (site, visit definition)."""

from django.db import models


class Trial(models.Model):
    """One deployment runs one trial; the row records which protocol file was loaded."""

    code = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    registration = models.CharField(max_length=40, blank=True)
    target_enrollment = models.PositiveIntegerField()
    protocol_sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.code


class Site(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class VisitDefinition(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="visit_definitions")
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    week = models.IntegerField()
    window_before_days = models.PositiveIntegerField(default=0)
    window_after_days = models.PositiveIntegerField(default=0)
    forms = models.JSONField(default=list)
    infusion = models.BooleanField(default=False)

    class Meta:
        ordering = ["week"]

    def __str__(self) -> str:
        return self.name
