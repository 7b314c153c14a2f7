"""Read API for one participant's laboratory results, with the rater's blind applied
(`trial.visits.lab_visibility`: post-baseline values of analytes that move with treatment are hidden)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability
from trial.participants.api import participants_for_api
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import LabResult


class ParticipantLabsApi(APIView):
    capability = Capability.VIEW_PARTICIPANTS

    class Output(serializers.Serializer[Any]):
        week = serializers.IntegerField(source="visit.definition.week")
        analyte = serializers.CharField()
        value = serializers.DecimalField(max_digits=10, decimal_places=3)
        unit = serializers.CharField()
        replicate_1 = serializers.DecimalField(max_digits=10, decimal_places=3)
        replicate_2 = serializers.DecimalField(max_digits=10, decimal_places=3)
        sample_time = serializers.DateTimeField()
        assay_batch = serializers.CharField()

    def get(self, request: Request, participant_id: str) -> Response:
        participant = get_object_or_404(participants_for_api(request.user), participant_id=participant_id)
        labs = visible_labs(
            request.user,
            LabResult.objects.active().filter(visit__participant=participant).select_related("visit__definition"),
        ).order_by("visit__definition__week", "analyte")
        return Response(self.Output(labs, many=True).data)
