"""REST endpoint for enrolment: randomize, then schedule the visits (`trial.workspace.services`).

The answer is the randomization number and date; the arm only when trial.blinding says this user
may see it (the selector asks), as on the randomize page (ICH E6(R3) 4.2: the blind kept by design).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from trial.access import Capability
from trial.core.api import WriteApi, form_clean, write_responses
from trial.participants.forms import RandomizeForm
from trial.participants.models import Participant
from trial.participants.scope import participants_for
from trial.participants.selectors import participant_get
from trial.randomization import selectors
from trial.randomization.api import AllocationOutput
from trial.workspace.services import participant_enrol


class ParticipantRandomizeApi(WriteApi):
    """Randomize (and schedule the visits). Named by `participant_id` (`/api/participants/<id>/randomize/`)
    or, as first published, by the participant's database id (`/api/randomization/participants/<pk>/randomize/`).
    A second request changes nothing and answers 200 with the same allocation."""

    capability = Capability.RANDOMIZE

    class Input(serializers.Serializer[Any]):
        baseline_date = serializers.DateField(
            required=False, help_text="The baseline (week 0) date; today if left out. Within 1 month of screening."
        )

    class Output(AllocationOutput):
        created = serializers.SerializerMethodField(help_text="False when the participant was already randomized.")

        def get_created(self, row: Any) -> bool:
            return bool(self.context["created"])

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def post(self, request: Request, participant_pk: int | None = None, participant_id: str | None = None) -> Response:
        participant = (
            participant_get(participant_id, user=request.user)
            if participant_id is not None
            else _by_pk(request.user, participant_pk)
        )
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        screening = getattr(participant, "screening", None)
        # The randomize page's form and its rule (baseline within the screening window); the API's
        # request is itself the confirmation the page asks for with its tick box.
        d = form_clean(
            RandomizeForm,
            {"baseline_date": data.validated_data.get("baseline_date") or date.today(), "confirm": True},
            screening_date=screening.screening_date if screening else None,
        ).cleaned_data
        result = participant_enrol(participant=participant, by=request.user, baseline_date=d["baseline_date"])
        row = selectors.allocation_row(user=request.user, allocation=result.allocation)
        body = self.Output(row, context={"created": result.created}).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


def _by_pk(user: Any, pk: int | None) -> Participant:
    return get_object_or_404(participants_for(user), pk=pk)
