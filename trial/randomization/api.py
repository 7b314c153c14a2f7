"""REST endpoints for randomization: one class per operation, nested Input/Output serializers.

The arm is never a serializer field read from the model: Output gets it from trial.blinding, and
the key is left out entirely for a blinded user.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability
from trial.randomization import selectors


class AllocationOutput(serializers.Serializer[Any]):
    participant_id = serializers.CharField()
    randomization_number = serializers.CharField()
    randomized_at = serializers.DateTimeField()
    randomized_by = serializers.CharField()

    def to_representation(self, row: selectors.AllocationRow) -> dict[str, Any]:
        data = super().to_representation(row)
        if row.arm_code is not None:
            data["arm"] = row.arm_code
            data["arm_label"] = row.arm_label
        return data


class AllocationListApi(APIView):
    capability = Capability.VIEW_ALLOCATIONS

    Output = AllocationOutput

    def get(self, request: Request) -> Response:
        rows = selectors.allocation_rows(user=request.user)
        return Response(self.Output(rows, many=True).data)
