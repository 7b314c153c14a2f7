"""Read API for adverse events. Ordered by participant and date, never by anything that follows
the allocation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.access import Capability
from trial.safety.models import AdverseEvent


class AdverseEventListApi(APIView):
    capability = Capability.VIEW_PARTICIPANTS

    class Output(serializers.Serializer[Any]):
        participant_id = serializers.CharField(source="participant.participant_id")
        term = serializers.CharField()
        onset_date = serializers.DateField()
        end_date = serializers.DateField()
        ongoing = serializers.BooleanField()
        severity = serializers.CharField()
        serious = serializers.BooleanField()
        relatedness = serializers.CharField()
        action_taken = serializers.CharField()
        outcome = serializers.CharField()

    def get(self, request: Request) -> Response:
        if not blinding.may_see_adverse_events(request.user):
            # Protocol [blinding]: some AE terms occur on one arm only (Safety: urinary leukocyte esterase).
            raise PermissionDenied("Your role does not see adverse events in this trial.")
        # Ordered by participant then date: never by anything that follows the allocation.
        qs = (
            AdverseEvent.objects.active()
            .select_related("participant")
            .order_by("participant__participant_id", "onset_date", "pk")
        )
        return Response(self.Output(qs, many=True).data)
