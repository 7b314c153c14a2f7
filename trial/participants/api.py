"""API for participants and their visits (labs: `trial.visits.api`; adverse events: `trial.safety.api`):
reads, and the writes of the screening and consent pages (through the same forms and services).

Each operation is one class with a nested Output serializer. The arm is never a model field of a
serializer: it is added only when trial.blinding says this user may see it, and is otherwise absent
(not null, not "blinded"), so a client cannot tell a blinded field from a missing one by its shape.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.access import Capability
from trial.core.api import WriteApi, form_clean, write_responses
from trial.core.services import VersionMissingError
from trial.participants import scope
from trial.participants.forms import ConsentForm, ScreeningForm
from trial.participants.models import Participant
from trial.participants.scope import sites_for
from trial.participants.selectors import participant_get
from trial.participants.services import attested_criteria, consent_record, participant_screen, screening_update
from trial.protocol.selectors import protocol

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


# --- Writes: the same forms and services as the screening and consent pages -------------------------


def _criteria_data(criteria: dict[str, Any]) -> dict[str, Any]:
    """The attested criteria (`{"code": true}`), checked against the protocol file's list."""
    known = set(attested_criteria())
    unknown = sorted(set(criteria) - known)
    if unknown:
        raise ValidationError(
            {"criteria": f"Unknown criteria: {', '.join(unknown)} (this protocol asks {', '.join(sorted(known))})."}
        )
    return dict(criteria)


class _ScreeningMeasures(serializers.Serializer[Any]):
    """The protocol's screening measures; the attested criteria by code in `criteria`. Types here;
    the ranges and every rule are the screening page's form (trial.participants.forms.ScreeningForm)."""

    screening_date = serializers.DateField()
    screening_crp_mg_l = serializers.DecimalField(max_digits=7, decimal_places=2)
    qids_sr = serializers.IntegerField()
    mmse = serializers.IntegerField()
    mgh_s = serializers.DecimalField(max_digits=4, decimal_places=1)
    hamd_item3 = serializers.IntegerField()
    bipolar = serializers.BooleanField(required=False, default=False)
    on_antidepressant = serializers.BooleanField(required=False, default=False)
    episode_duration_months = serializers.IntegerField(required=False, allow_null=True)
    height_cm = serializers.DecimalField(max_digits=4, decimal_places=1, required=False, allow_null=True)
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    criteria = serializers.DictField(
        child=serializers.BooleanField(allow_null=True),
        help_text="Each attested inclusion and exclusion criterion of the protocol file, by its code: true or false.",
    )


class ScreeningOutput(serializers.Serializer[Any]):
    participant_id = serializers.CharField(source="participant.participant_id")
    screening_number = serializers.CharField(source="participant.screening_number")
    site = serializers.CharField(source="participant.site.code")
    status = serializers.CharField(source="participant.status")
    eligible = serializers.BooleanField(allow_null=True)
    failed_criteria = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField(help_text="The screening record's version: send it back to change it.")


class ParticipantScreenApi(WriteApi):
    """Screen a person: the participant and the screening record; eligibility follows from the data."""

    capability = Capability.ENTER_DATA

    class Input(_ScreeningMeasures):
        site = serializers.CharField(help_text="The site's code.")
        sex = serializers.CharField()
        date_of_birth = serializers.DateField()

    Output = ScreeningOutput

    @extend_schema(request=Input, responses=write_responses(Output, created=True))
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values |= _criteria_data(values.pop("criteria"))
        form = form_clean(ScreeningForm, values, new=True, sites=sites_for(request.user))
        d = form.cleaned_data
        participant = participant_screen(
            site=d["site"],
            sex=d["sex"],
            date_of_birth=d["date_of_birth"],
            screening=form.measures_and_answers(),  # type: ignore[attr-defined]
            by=request.user,
        )
        return Response(self.Output(participant.screening).data, status=status.HTTP_201_CREATED)


class ScreeningUpdateApi(WriteApi):
    """Correct a screening record (before randomization): every measure again, the version it
    started from and a reason for change (21 CFR 11.10(e))."""

    capability = Capability.ENTER_DATA

    class Input(_ScreeningMeasures):
        version = serializers.IntegerField(required=False, min_value=0)
        reason = serializers.CharField(required=False, allow_blank=True)

    Output = ScreeningOutput

    @extend_schema(request=Input, responses=write_responses(Output))
    def put(self, request: Request, participant_id: str) -> Response:
        participant = participant_get(participant_id, user=request.user)
        screening = getattr(participant, "screening", None)
        if screening is None:
            raise Http404("This participant has no screening record.")
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values |= _criteria_data(values.pop("criteria"))
        if values.get("version") is None:
            raise VersionMissingError(
                f"Send the version of the screening record you started from (now {screening.version}) "
                "and a reason for the change.",
                current_version=screening.version,
            )
        form = form_clean(ScreeningForm, values, facts={"timeline": participant.timeline()}, new=False)
        screening.version = form.cleaned_data["version"]
        saved = screening_update(
            screening=screening,
            data=form.measures_and_answers(),  # type: ignore[attr-defined]
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
        return Response(self.Output(saved).data)


class ConsentRecordApi(WriteApi):
    """Record the participant's informed consent."""

    capability = Capability.ENTER_DATA

    class Input(serializers.Serializer[Any]):
        consent_date = serializers.DateField()
        consent_version = serializers.CharField(
            required=False, help_text="The consent form's version; the protocol file's current one if left out."
        )
        participant_signed = serializers.BooleanField()
        copy_given = serializers.BooleanField()

    class Output(serializers.Serializer[Any]):
        participant_id = serializers.CharField(source="participant.participant_id")
        consent_date = serializers.DateField()
        consent_version = serializers.CharField(source="form_version")
        participant_signed = serializers.BooleanField()
        copy_given = serializers.BooleanField()
        version = serializers.IntegerField()

    @extend_schema(request=Input, responses=write_responses(Output, created=True))
    def post(self, request: Request, participant_id: str) -> Response:
        participant = participant_get(participant_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = {"consent_version": protocol().consent_version} | dict(data.validated_data)
        d = form_clean(ConsentForm, values, facts={"timeline": participant.timeline()}).cleaned_data
        consent = consent_record(
            participant=participant,
            consent_date=d["consent_date"],
            by=request.user,
            version=d["consent_version"],
            participant_signed=d["participant_signed"],
            copy_given=d["copy_given"],
        )
        return Response(self.Output(consent).data, status=status.HTTP_201_CREATED)
