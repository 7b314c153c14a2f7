"""Read API for adverse events. Ordered by participant and date, never by anything that follows
the allocation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.access import Capability
from trial.participants.scope import site_filter
from trial.safety.models import AdverseEvent

PAGE = OpenApiParameter("page", int, description="Page number, from 1 (`?page=2`).")


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

    @extend_schema(
        parameters=[PAGE],
        responses=inline_serializer(
            "PaginatedAdverseEventList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
                "results": Output(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        if not blinding.may_see_adverse_events(request.user):
            # Protocol [blinding]: some AE terms occur on one arm only (Safety: urinary leukocyte esterase).
            raise PermissionDenied("Your role does not see adverse events in this trial.")
        # Ordered by participant then date: never by anything that follows the allocation.
        qs = (
            AdverseEvent.objects.active()
            .filter(site_filter(request.user, "participant__site"))
            .select_related("participant")
            .order_by("participant__participant_id", "onset_date", "pk")
        )
        # Pages of PAGE_SIZE (`?page=2`), with count, next and previous (REST_FRAMEWORK settings).
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.Output(page, many=True).data)
