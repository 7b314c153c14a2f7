"""Read API for participants and their visits (labs: `trial.visits.api`; adverse events: `trial.safety.api`).

Each operation is one class with a nested Output serializer. The arm is never a model field of a
serializer: it is added only when trial.blinding says this user may see it, and is otherwise absent
(not null, not "blinded"), so a client cannot tell a blinded field from a missing one by its shape.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.access import Capability
from trial.participants import scope
from trial.participants.models import Participant

PAGE = OpenApiParameter("page", int, description="Page number, from 1 (`?page=2`).")


def participants_for_api(user: Any) -> Any:
    """The participants of the sites this user may reach (trial.participants.scope)."""
    return scope.participants_for(user).select_related("site", "allocation__entry").order_by("participant_id")


class _ParticipantOutput(serializers.Serializer[Any]):
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
        # A list passes every row's arm, decided for the page at once (trial.blinding.arm_codes).
        arms = self.context.get("arms")
        user = self.context["request"].user
        arm = arms.get(instance.pk) if arms is not None else blinding.arm_code(user, instance)
        if arm is not None:
            data["arm"] = arm
        return data


class ParticipantListApi(APIView):
    capability = Capability.VIEW_PARTICIPANTS

    class Output(_ParticipantOutput):
        pass

    @extend_schema(
        parameters=[PAGE, OpenApiParameter("status", str, description="Only participants with this status.")],
        responses=inline_serializer(
            "PaginatedParticipantList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
                "results": Output(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        qs = participants_for_api(request.user)
        if status := request.query_params.get("status"):
            qs = qs.filter(status=status)
        # Pages of PAGE_SIZE (`?page=2`), with count, next and previous (REST_FRAMEWORK settings).
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        rows = list(page or [])
        context = {"request": request, "arms": blinding.arm_codes(request.user, rows)}
        return paginator.get_paginated_response(self.Output(rows, many=True, context=context).data)


class ParticipantDetailApi(APIView):
    capability = Capability.VIEW_PARTICIPANTS

    class Output(_ParticipantOutput):
        class VisitOutput(serializers.Serializer[Any]):
            code = serializers.CharField(source="definition.code")
            week = serializers.IntegerField(source="definition.week")
            scheduled_date = serializers.DateField()
            window_start = serializers.DateField()
            window_end = serializers.DateField()
            actual_date = serializers.DateField()
            status = serializers.CharField()
            out_of_window = serializers.BooleanField()
            hamd_total = serializers.SerializerMethodField()

            def get_hamd_total(self, obj: Any) -> int | None:
                hamd = getattr(obj, "hamd", None)
                return hamd.total if hamd else None

        visits = serializers.SerializerMethodField()

        def get_visits(self, obj: Participant) -> Any:
            visits = obj.visits.active().select_related("definition", "hamd").order_by("definition__week")
            return self.VisitOutput(visits, many=True).data

    def get(self, request: Request, participant_id: str) -> Response:
        participant = get_object_or_404(participants_for_api(request.user), participant_id=participant_id)
        return Response(self.Output(participant, context={"request": request}).data)
