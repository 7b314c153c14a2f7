"""REST endpoints for randomization: one class per operation, nested Input/Output serializers.

The arm is never a serializer field read from the model: Output gets it from trial.blinding, and
the key is left out entirely for a blinded user.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.participants.models import Participant
from trial.randomization import selectors, services
from trial.randomization.access import ALLOCATION_VIEWERS, RANDOMIZERS, role_permission


class AllocationOutput(serializers.Serializer):
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
    permission_classes = [role_permission(*ALLOCATION_VIEWERS)]

    Output = AllocationOutput

    def get(self, request: Request) -> Response:
        rows = selectors.allocation_rows(user=request.user)
        return Response(self.Output(rows, many=True).data)


class ParticipantRandomizeApi(APIView):
    permission_classes = [role_permission(*RANDOMIZERS)]

    class Input(serializers.Serializer):
        baseline_date = serializers.DateField(required=False)

    Output = AllocationOutput

    def post(self, request: Request, participant_pk: int) -> Response:
        participant = get_object_or_404(Participant.objects.active(), pk=participant_pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.participant_randomize(participant=participant, by=request.user, **data.validated_data)
        except ValidationError as exc:
            return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        row = selectors.allocation_row(user=request.user, allocation=result.allocation)
        body = self.Output(row).data | {"created": result.created}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
