"""REST endpoints for the pharmacy (unblinded roles only). One class per operation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability
from trial.pharmacy import selectors


class InfusionQueueApi(APIView):
    capability = Capability.VIEW_PHARMACY

    class Output(serializers.Serializer[Any]):
        visit_id = serializers.IntegerField(source="visit.pk")
        visit = serializers.CharField(source="visit.definition.code")
        due = serializers.DateField()
        participant_id = serializers.CharField()
        randomization_number = serializers.CharField()
        arm = serializers.CharField(source="arm_code")  # from trial.blinding via the selector
        weight_kg = serializers.FloatField(source="weight.kg", allow_null=True)
        weight_source = serializers.CharField(source="weight.source")
        dose_mg = serializers.IntegerField(source="plan.dose_mg", allow_null=True, default=None)
        vials = serializers.IntegerField(source="plan.vials", allow_null=True, default=None)
        volume_ml = serializers.DecimalField(
            source="plan.volume_ml", max_digits=6, decimal_places=1, allow_null=True, default=None
        )
        kit_id = serializers.CharField(source="preparation.kit_id", allow_null=True, default=None)

    def get(self, request: Request) -> Response:
        rows = selectors.infusion_queue(user=request.user)
        return Response(self.Output(rows, many=True).data)
