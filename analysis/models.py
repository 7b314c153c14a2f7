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
        # Simulated from the by-arm moderation fit, so as unblinded as the fit itself.
        POWER_SIM = "power_sim", "Power simulation: hs-CRP-enriched follow-up trial (by arm)"

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
    # Provenance (ICH E6(R3) 4.x reproducibility of results; 21 CFR 11.10(b) accurate copies): the
    # dataset and protocol hashes, code and library versions, seed, requester, time and worker host.
    provenance = models.JSONField(default=dict, blank=True)
    # The random seed of anything stochastic in the run (the power simulation); fixed so that a
    # re-run on unchanged data gives byte-identical output.
    seed = models.PositiveIntegerField(default=2013)
    # Progress by stage, polled by the run page (analysis.views.RunStatusView).
    stage = models.CharField(max_length=120, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # What the requester asked for (the power simulation's sizes, hs-CRP threshold, simulations).
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    @property
    def worker_host(self) -> str:
        """The worker's host name only: its process id is an operational detail, not for the reader."""
        return self.worker.rpartition(" pid ")[0] or self.worker
