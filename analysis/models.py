"""Analysis runs: a record of what was run, by whom, on which data, with what result."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AnalysisRun(models.Model):
    class Kind(models.TextChoices):
        DATASET_SUMMARY = "dataset_summary", "Blinded dataset summary"
        MMRM_POOLED = "mmrm_pooled", "Pooled (blinded) MMRM"
        MMRM_FINAL = "mmrm_final", "Final MMRM (unblinded, after lock)"
        # The only by-arm output before database lock (ICH E9 / DSMB charter: closed session only).
        DSMB_CLOSED = "dsmb_closed", "DSMB closed-session report (by arm, before lock)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    unblinded = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
