"""One small trial (tests/trial/blinding/world.py: both arms, labs, pharmacy, a code break) per test."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture
def bundle_files(users: dict[str, Any]) -> Any:
    """`bundle_files("statistician", "csv", datasets=[...])` -> {file name: bytes} of the export ZIP."""
    from trial.exports.services import export_bundle

    def make(username: str, fmt: str, **kwargs: Any) -> dict[str, bytes]:
        return unzip(export_bundle(by=users[username], fmt=fmt, **kwargs).content)

    return make


@pytest.fixture(autouse=True)
def export_job_dir(settings: Any, tmp_path: Any) -> Any:
    """Each test's export-job bundles in its own directory (settings.EXPORT_JOB_DIR)."""
    settings.EXPORT_JOB_DIR = tmp_path / "export-jobs"
    return settings.EXPORT_JOB_DIR


@pytest.fixture
def export_on_page(django_capture_on_commit_callbacks: Any) -> Any:
    """`export_on_page(client, {"datasets": [...], "format": "csv"})` -> (the job, the download response).

    The page queues the job on commit; in the tests Celery runs it eagerly (trial/settings/test.py)
    when the request's commit callbacks run, as the worker would after the request."""
    from trial.exports.models import ExportJob

    def post(client: Any, data: dict[str, Any]) -> tuple[Any, Any]:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/exports/", data)
        assert response.status_code == 302, response.content.decode()[:2000]
        job = ExportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
        assert response["Location"] == f"/exports/jobs/{job.pk}/"
        return job, client.get(f"/exports/jobs/{job.pk}/download/")

    return post
