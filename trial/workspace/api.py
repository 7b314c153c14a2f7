"""REST endpoint for enrolment: randomize, then schedule the visits (`trial.workspace.services`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability
from trial.participants.scope import participants_for
from trial.randomization import selectors
from trial.randomization.api import AllocationOutput
from trial.workspace.services import participant_enrol


class ParticipantRandomizeApi(APIView):
    capability = Capability.RANDOMIZE

    class Input(serializers.Serializer[Any]):
        baseline_date = serializers.DateField(required=False)

    Output = AllocationOutput

    def post(self, request: Request, participant_pk: int) -> Response:
        participant = get_object_or_404(participants_for(request.user), pk=participant_pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = participant_enrol(participant=participant, by=request.user, **data.validated_data)
        except ValidationError as exc:
            return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        row = selectors.allocation_row(user=request.user, allocation=result.allocation)
        body = self.Output(row).data | {"created": result.created}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
