"""API for adverse events and concomitant medications: the list of adverse events (ordered by
participant and date, never by anything that follows the allocation), and the writes of the safety
pages through their own forms and services (trial.safety.views)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial import blinding
from trial.access import Capability
from trial.core.api import WriteApi, form_clean, write_responses
from trial.core.services import VersionMissingError, form_entry_save
from trial.participants.scope import reach_or_404, site_filter
from trial.participants.selectors import participant_get
from trial.safety import selectors
from trial.safety.forms import AdverseEventForm, ConmedForm
from trial.safety.models import AdverseEvent
from trial.safety.services import adverse_event_record, conmed_record

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


# --- Writes: adverse events and concomitant medications, through the web pages' forms and services ---


class _AdverseEventFields(serializers.Serializer[Any]):
    term = serializers.CharField(max_length=200)
    onset_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)
    ongoing = serializers.BooleanField(required=False, default=False)
    severity = serializers.CharField(required=False, allow_blank=True, help_text="mild, moderate or severe.")
    serious = serializers.BooleanField(required=False, default=False)
    sae_death = serializers.BooleanField(required=False, default=False)
    sae_life_threatening = serializers.BooleanField(required=False, default=False)
    sae_hospitalization = serializers.BooleanField(required=False, default=False)
    sae_disability = serializers.BooleanField(required=False, default=False)
    sae_congenital_anomaly = serializers.BooleanField(required=False, default=False)
    sae_important_medical_event = serializers.BooleanField(required=False, default=False)
    relatedness = serializers.CharField(required=False, allow_blank=True)
    action_taken = serializers.CharField(required=False, default=AdverseEvent.Action.NONE)
    outcome = serializers.CharField(required=False, allow_blank=True)


class AdverseEventOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    participant_id = serializers.CharField(source="participant.participant_id")
    term = serializers.CharField()
    onset_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    ongoing = serializers.BooleanField()
    severity = serializers.CharField()
    serious = serializers.BooleanField()
    relatedness = serializers.CharField()
    action_taken = serializers.CharField()
    outcome = serializers.CharField()
    version = serializers.IntegerField(help_text="Send it back, with a reason, to change the event.")


class _ConmedFields(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    drug_class = serializers.CharField()
    dose = serializers.DecimalField(max_digits=8, decimal_places=2, required=False, allow_null=True)
    dose_unit = serializers.CharField(required=False, allow_blank=True, max_length=20)
    indication = serializers.CharField(required=False, allow_blank=True, max_length=200)
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)


class ConmedOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    participant_id = serializers.CharField(source="participant.participant_id")
    name = serializers.CharField()
    drug_class = serializers.CharField()
    dose = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    dose_unit = serializers.CharField()
    indication = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    prohibited = serializers.BooleanField(help_text="A prohibited class: a protocol deviation was recorded.")
    version = serializers.IntegerField(help_text="Send it back, with a reason, to change the medication.")


class _EditFields(serializers.Serializer[Any]):
    version = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    reason = serializers.CharField(required=False, allow_blank=True, help_text="The reason for change.")


def _sees_adverse_events(user: Any) -> None:
    if not blinding.may_see_adverse_events(user):
        # Protocol [blinding]: some AE terms occur on one arm only.
        raise PermissionDenied("Your role does not see adverse events in this trial.")


def _safety_save(
    *, form_class: Any, service: Any, participant: Any, values: dict[str, Any], by: Any, instance: Any
) -> Any:
    """The safety pages' save (trial.safety.views.SafetyFormView.save): the form, then the service
    inside form_entry_save with the edit checks."""
    form = form_clean(form_class, values, facts={"timeline": participant.timeline()})
    d = form.cleaned_data
    kwargs = {
        "participant": participant,
        "data": form.data_for_service(),  # type: ignore[attr-defined]
        "by": by,
        "instance": instance,
        "reason": d.get("reason") or "",
        "version": d.get("version") or None,
    }
    return form_entry_save(participant=participant, by=by, write=lambda: service(**kwargs))


def _edit_values(instance: Any, values: dict[str, Any]) -> dict[str, Any]:
    if values.get("version") is None:
        raise VersionMissingError(
            f"Send the version of the record you started from (now {instance.version}) and a reason for the change.",
            current_version=instance.version,
        )
    return values


class AdverseEventCreateApi(WriteApi):
    """Record an adverse event; a serious one alerts the investigators (the service does it)."""

    capability = Capability.ENTER_DATA
    Input = _AdverseEventFields
    Output = AdverseEventOutput

    @extend_schema(request=Input, responses=write_responses(Output, created=True))
    def post(self, request: Request, participant_id: str) -> Response:
        _sees_adverse_events(request.user)
        participant = participant_get(participant_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        saved = _safety_save(
            form_class=AdverseEventForm,
            service=adverse_event_record,
            participant=participant,
            values=dict(data.validated_data),
            by=request.user,
            instance=None,
        )
        return Response(self.Output(saved).data, status=status.HTTP_201_CREATED)


class AdverseEventUpdateApi(WriteApi):
    """Correct an adverse event: every field again, its version and a reason for change."""

    capability = Capability.ENTER_DATA

    class Input(_AdverseEventFields, _EditFields):
        pass

    Output = AdverseEventOutput

    @extend_schema(request=Input, responses=write_responses(Output))
    def put(self, request: Request, pk: int) -> Response:
        _sees_adverse_events(request.user)
        instance = selectors.adverse_event_get(pk)
        participant = reach_or_404(request.user, instance.participant)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        saved = _safety_save(
            form_class=AdverseEventForm,
            service=adverse_event_record,
            participant=participant,
            values=_edit_values(instance, dict(data.validated_data)),
            by=request.user,
            instance=instance,
        )
        return Response(self.Output(saved).data)


class ConmedCreateApi(WriteApi):
    """Record a concomitant medication; a prohibited class records a protocol deviation (the service)."""

    capability = Capability.ENTER_DATA
    Input = _ConmedFields
    Output = ConmedOutput

    @extend_schema(request=Input, responses=write_responses(Output, created=True))
    def post(self, request: Request, participant_id: str) -> Response:
        participant = participant_get(participant_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        saved = _safety_save(
            form_class=ConmedForm,
            service=conmed_record,
            participant=participant,
            values=dict(data.validated_data),
            by=request.user,
            instance=None,
        )
        return Response(self.Output(saved).data, status=status.HTTP_201_CREATED)


class ConmedUpdateApi(WriteApi):
    """Correct a concomitant medication: every field again, its version and a reason for change."""

    capability = Capability.ENTER_DATA

    class Input(_ConmedFields, _EditFields):
        pass

    Output = ConmedOutput

    @extend_schema(request=Input, responses=write_responses(Output))
    def put(self, request: Request, pk: int) -> Response:
        instance = selectors.conmed_get(pk)
        participant = reach_or_404(request.user, instance.participant)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        saved = _safety_save(
            form_class=ConmedForm,
            service=conmed_record,
            participant=participant,
            values=_edit_values(instance, dict(data.validated_data)),
            by=request.user,
            instance=instance,
        )
        return Response(self.Output(saved).data)
