"""Read API for participants, their visits, labs and adverse events.

Each operation is one class with a nested Output serializer. The arm is never a model field of a
serializer: it is added only when trial.blinding says this user may see it, and is otherwise absent
(not null, not "blinded"), so a client cannot tell a blinded field from a missing one by its shape.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.participants.models import Participant
from trial.safety.models import AdverseEvent
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import LabResult, Visit


def _participants() -> Any:
    return Participant.objects.active().select_related("site", "allocation__entry").order_by("participant_id")


class _ParticipantOutput(serializers.Serializer):
    participant_id = serializers.CharField()
    screening_number = serializers.CharField()
    site = serializers.CharField(source="site.code")
    sex = serializers.CharField()
    status = serializers.CharField()
    randomization_number = serializers.SerializerMethodField()
    randomized_at = serializers.SerializerMethodField()

    def get_randomization_number(self, obj: Participant) -> str | None:
        alloc = getattr(obj, "allocation", None)
        return alloc.entry.randomization_number if alloc else None

    def get_randomized_at(self, obj: Participant) -> str | None:
        alloc = getattr(obj, "allocation", None)
        return alloc.randomized_at.isoformat() if alloc else None

    def to_representation(self, instance: Participant) -> dict[str, Any]:
        data = super().to_representation(instance)
        arm = blinding.arm_code(self.context["request"].user, instance)
        if arm is not None:
            data["arm"] = arm
        return data


class ParticipantListApi(APIView):
    class Output(_ParticipantOutput):
        pass

    def get(self, request: Request) -> Response:
        qs = _participants()
        if status := request.query_params.get("status"):
            qs = qs.filter(status=status)
        return Response(self.Output(qs, many=True, context={"request": request}).data)


class ParticipantDetailApi(APIView):
    class Output(_ParticipantOutput):
        class VisitOutput(serializers.Serializer):
            code = serializers.CharField(source="definition.code")
            week = serializers.IntegerField(source="definition.week")
            scheduled_date = serializers.DateField()
            window_start = serializers.DateField()
            window_end = serializers.DateField()
            actual_date = serializers.DateField()
            status = serializers.CharField()
            out_of_window = serializers.BooleanField()
            hamd_total = serializers.SerializerMethodField()

            def get_hamd_total(self, obj: Visit) -> int | None:
                hamd = getattr(obj, "hamd", None)
                return hamd.total if hamd else None

        visits = serializers.SerializerMethodField()

        def get_visits(self, obj: Participant) -> Any:
            visits = obj.visits.active().select_related("definition", "hamd").order_by("definition__week")
            return self.VisitOutput(visits, many=True).data

    def get(self, request: Request, participant_id: str) -> Response:
        participant = get_object_or_404(_participants(), participant_id=participant_id)
        return Response(self.Output(participant, context={"request": request}).data)


class ParticipantLabsApi(APIView):
    class Output(serializers.Serializer):
        week = serializers.IntegerField(source="visit.definition.week")
        analyte = serializers.CharField()
        value = serializers.DecimalField(max_digits=10, decimal_places=3)
        unit = serializers.CharField()
        replicate_1 = serializers.DecimalField(max_digits=10, decimal_places=3)
        replicate_2 = serializers.DecimalField(max_digits=10, decimal_places=3)
        sample_time = serializers.DateTimeField()
        assay_batch = serializers.CharField()

    def get(self, request: Request, participant_id: str) -> Response:
        participant = get_object_or_404(_participants(), participant_id=participant_id)
        labs = visible_labs(
            request.user,
            LabResult.objects.active().filter(visit__participant=participant).select_related("visit__definition"),
        ).order_by("visit__definition__week", "analyte")
        return Response(self.Output(labs, many=True).data)


class AdverseEventListApi(APIView):
    class Output(serializers.Serializer):
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
        # Ordered by participant then date: never by anything that follows the allocation.
        qs = (
            AdverseEvent.objects.active()
            .select_related("participant")
            .order_by("participant__participant_id", "onset_date", "pk")
        )
        return Response(self.Output(qs, many=True).data)
