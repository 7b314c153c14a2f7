"""The OpenAPI schema's naming: every API class nests its own `Output` serializer (one class per
operation), so components are named after the operation ("ParticipantListApiOutput"), not all "Output"."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema


class StratumAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname and "<locals>" not in qualname:
            return qualname.replace(".", "")
        return str(super().get_serializer_name(serializer, direction))
