"""Reads for the export pages: the codebook and a user's API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from trial.exports.datasets import datasets_for
from trial.exports.dictionary import codebook_rows
from trial.exports.models import ApiToken


def codebook_for(user: Any) -> list[dict[str, str]]:
    """The codebook of the datasets this user may export (the pharmacy one only for unblinded roles)."""
    return codebook_rows([d.code for d in datasets_for(user)])


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
