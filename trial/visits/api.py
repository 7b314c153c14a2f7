"""API of visits: one participant's laboratory results, with the rater's blind applied
(`trial.visits.lab_visibility`: post-baseline values of analytes that move with treatment are hidden),
and the writes of every visit form (date, missed, HAM-D-17, CGI-S, labs, vitals, infusion) through the
visit pages' own forms and services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability
from trial.blinding import hidden_lab_analytes_for
from trial.core.api import WriteApi, form_clean, write_responses
from trial.core.services import VersionMissingError
from trial.participants.api import participants_for_api
from trial.protocol.selectors import protocol
from trial.visits import selectors, soft_checks
from trial.visits.forms import (
    CgisForm,
    HamdForm,
    InfusionForm,
    LabSampleForm,
    LabsForm,
    MissedVisitForm,
    VisitDateForm,
    VitalsForm,
)
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import LabResult, Visit
from trial.visits.services import (
    SoftCheckRefused,
    cgis_record,
    hamd_record,
    infusion_record,
    lab_record,
    lab_sample_record,
    missed_before_window_finding,
    soft_checks_fired_log,
    visit_complete,
    visit_form_save,
    visit_miss,
    vitals_record,
)
from trial.visits.soft_checks import SoftFinding


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


# --- Writes: each visit form, through the visit page's own form and services ------------------------


class VisitOutput(serializers.Serializer[Any]):
    visit_id = serializers.IntegerField(source="pk")
    participant_id = serializers.CharField(source="participant.participant_id")
    code = serializers.CharField(source="definition.code")
    week = serializers.IntegerField(source="definition.week")
    status = serializers.CharField()
    scheduled_date = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    actual_date = serializers.DateField(allow_null=True)
    out_of_window = serializers.BooleanField()
    reason_code = serializers.CharField()
    reason = serializers.CharField()
    version = serializers.IntegerField(help_text="The visit's version: send it back to change the visit.")
    warnings = serializers.SerializerMethodField()

    def get_warnings(self, obj: Any) -> list[str]:
        return list(self.context.get("warnings", []))


class _Warned(serializers.Serializer[Any]):
    """What every form's answer carries: the protocol file's soft-check warnings on what was sent.
    The web form shows them before saving and saves on "Save anyway"; a script cannot be asked, so
    the record is saved and the warnings come back with it (and are counted on the Edit checks page)."""

    warnings = serializers.SerializerMethodField()

    def get_warnings(self, obj: Any) -> list[str]:
        return list(self.context.get("warnings", []))


class _RecordOutput(_Warned):
    visit_id = serializers.IntegerField(source="visit.pk")
    version = serializers.IntegerField(help_text="The record's version: send it back to change the record.")


class _VisitInput(serializers.Serializer[Any]):
    visit_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The date the visit was done; required while the visit is not yet recorded as done, ignored after.",
    )
    version = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="To change a saved record: its version."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, help_text="To change a saved record: the reason for change."
    )


def _warnings_log(visit: Visit, findings: list[SoftFinding], by: Any) -> list[str]:
    if findings:
        soft_checks_fired_log(participant=visit.participant, findings=findings, by=by)
    return [f.message for f in findings]


class _VisitFormApi(WriteApi):
    """PUT a form of one visit: without `version` it enters the form (201); with the saved record's
    `version` and a `reason` it changes it (200). The same form class, rules, soft checks and
    services as the visit's web page (trial.visits.views)."""

    capability = Capability.ENTER_DATA
    form_class: type[forms.Form]
    relation = ""
    needs_labs = False

    def load(self, visit_pk: int) -> Visit:
        return selectors.visit_for_form(visit_pk, relation=self.relation, labs=self.needs_labs)

    def existing(self, visit: Visit) -> Any:
        record = getattr(visit, self.relation, None)
        return record if record is not None and not record.is_voided else None

    def form_kwargs(self, visit: Visit, user: Any) -> dict[str, Any]:
        return {"visit": visit}

    def form_values(self, visit: Visit, values: dict[str, Any], user: Any) -> dict[str, Any]:
        return values

    def soft_warnings(self, visit: Visit, form: Any) -> list[SoftFinding]:
        found = []
        if "visit_date" in form.cleaned_data and visit.status != Visit.Status.DONE:
            found += soft_checks.visit_order_warnings(visit)
        return found + self.form_soft_warnings(visit, form)

    def form_soft_warnings(self, visit: Visit, form: Any) -> list[SoftFinding]:
        return []

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        raise NotImplementedError

    def editing(self, visit: Visit, values: dict[str, Any]) -> bool:
        if values.get("version") is None:
            return False
        if self.existing(visit) is None:
            raise ValidationError({"version": "There is no saved record to change: leave out version to enter it."})
        return True

    def put(self, request: Request, visit_pk: int) -> Response:
        visit = self.load(visit_pk)
        data = self.Input(data=request.data)  # type: ignore[attr-defined]  # each subclass nests its Input
        data.is_valid(raise_exception=True)
        values = self.form_values(visit, dict(data.validated_data), request.user)
        editing = self.editing(visit, values)
        form = form_clean(
            self.form_class,
            values,
            facts={"timeline": visit.participant.timeline()},
            **self.form_kwargs(visit, request.user),
        )
        warnings = _warnings_log(visit, self.soft_warnings(visit, form), request.user)
        d = form.cleaned_data
        saved = visit_form_save(
            visit=visit,
            by=request.user,
            visit_date=d.get("visit_date"),
            write=lambda: self.record(
                visit, form, by=request.user, version=d.get("version") or None, reason=d.get("reason") or ""
            ),
        )
        body = self.Output(saved, context={"warnings": warnings}).data  # type: ignore[attr-defined]
        return Response(body, status=status.HTTP_200_OK if editing else status.HTTP_201_CREATED)


def _api_input(name: str, base: type[serializers.Serializer[Any]], fields: dict[str, Any]) -> Any:
    """An Input serializer whose fields follow the protocol's instrument (HAM-D-17's items)."""
    made = type("Input", (base,), dict(fields))
    made.__qualname__ = f"{name}.Input"
    return made


_HAMD_ITEMS = 17  # Instruments: the HAM-D-17 has 17 items, each scored from 0 to its anchor's maximum


class HamdApi(_VisitFormApi):
    capability = Capability.RATE
    form_class = HamdForm
    relation = "hamd"
    Input = _api_input(
        "HamdApi",
        _VisitInput,
        {f"item_{n}": serializers.IntegerField(help_text=f"Item {n} score.") for n in range(1, _HAMD_ITEMS + 1)},
    )

    class Output(_RecordOutput):
        total = serializers.IntegerField()

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        return hamd_record(visit=visit, items=form.items(), by=by, reason=reason, version=version)


class CgisApi(_VisitFormApi):
    capability = Capability.RATE
    form_class = CgisForm
    relation = "cgis"

    class Input(_VisitInput):
        score = serializers.IntegerField()

    class Output(_RecordOutput):
        score = serializers.IntegerField()

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        return cgis_record(visit=visit, score=form.cleaned_data["score"], by=by, reason=reason, version=version)


class VitalsApi(_VisitFormApi):
    form_class = VitalsForm
    relation = "vitals"

    class Input(_VisitInput):
        weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1)
        systolic_mmhg = serializers.IntegerField(required=False, allow_null=True)
        diastolic_mmhg = serializers.IntegerField(required=False, allow_null=True)
        heart_rate_bpm = serializers.IntegerField(required=False, allow_null=True)
        temperature_c = serializers.DecimalField(max_digits=3, decimal_places=1, required=False, allow_null=True)

    class Output(_RecordOutput):
        weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1)
        systolic_mmhg = serializers.IntegerField(allow_null=True)
        diastolic_mmhg = serializers.IntegerField(allow_null=True)
        heart_rate_bpm = serializers.IntegerField(allow_null=True)
        temperature_c = serializers.DecimalField(max_digits=3, decimal_places=1, allow_null=True)

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        return vitals_record(visit=visit, data=form.data_for_service(), by=by, reason=reason, version=version)


class InfusionApi(_VisitFormApi):
    form_class = InfusionForm
    relation = "infusion"

    class Input(_VisitInput):
        weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1)
        start_time = serializers.DateTimeField(required=False, allow_null=True)
        stop_time = serializers.DateTimeField(required=False, allow_null=True)
        reaction = serializers.CharField(required=False, allow_blank=True)
        delayed_for_infection = serializers.BooleanField(required=False, default=False)
        delay_reason = serializers.CharField(required=False, allow_blank=True)
        delay_days = serializers.IntegerField(required=False, allow_null=True)

    class Output(_RecordOutput):
        weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1)
        planned_dose_mg = serializers.IntegerField(help_text="By weight, whatever the arm.")
        start_time = serializers.DateTimeField(allow_null=True)
        stop_time = serializers.DateTimeField(allow_null=True)
        reaction = serializers.CharField()
        delayed_for_infection = serializers.BooleanField()
        delay_reason = serializers.CharField()
        delay_days = serializers.IntegerField()

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def form_soft_warnings(self, visit: Visit, form: Any) -> list[SoftFinding]:
        d = form.cleaned_data
        return soft_checks.infusion_warnings(visit.pk, d.get("start_time"), d.get("stop_time"))

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        return infusion_record(visit=visit, data=form.data_for_service(), by=by, reason=reason, version=version)


class _LabResultInput(serializers.Serializer[Any]):
    analyte = serializers.CharField(help_text="The analyte's code in the protocol file (hs_crp, tnf, ...).")
    value = serializers.DecimalField(max_digits=10, decimal_places=3, required=False, allow_null=True)
    replicate_1 = serializers.DecimalField(max_digits=10, decimal_places=3, required=False, allow_null=True)
    replicate_2 = serializers.DecimalField(max_digits=10, decimal_places=3, required=False, allow_null=True)
    version = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class _LabResultOutput(serializers.Serializer[Any]):
    analyte = serializers.CharField()
    value = serializers.DecimalField(max_digits=10, decimal_places=3)
    replicate_1 = serializers.DecimalField(max_digits=10, decimal_places=3, allow_null=True)
    replicate_2 = serializers.DecimalField(max_digits=10, decimal_places=3, allow_null=True)
    sample_time = serializers.DateTimeField()
    assay_batch = serializers.CharField()
    version = serializers.IntegerField()


class LabsApi(_VisitFormApi):
    """The laboratory results of one visit, each analyte its own record with its own version. Only the
    analytes the visit's web form offers this user: after baseline, not those whose values reveal
    the arm (trial.blinding; the site records their sample, the unblinded statistician their result)."""

    form_class = LabsForm
    needs_labs = True

    class Input(_VisitInput):
        sample_time = serializers.DateTimeField(required=False, allow_null=True)
        assay_batch = serializers.CharField(required=False, allow_blank=True, max_length=40)
        results = _LabResultInput(many=True, allow_empty=False)

    class Output(_Warned):
        visit_id = serializers.SerializerMethodField()
        results = serializers.SerializerMethodField()

        def get_visit_id(self, saved: list[Any]) -> int | None:
            return saved[0].visit_id if saved else None

        @extend_schema_field(_LabResultOutput(many=True))
        def get_results(self, saved: list[Any]) -> Any:
            return _LabResultOutput(saved, many=True).data

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def analytes(self, visit: Visit, user: Any) -> tuple[Any, ...]:
        hidden = hidden_lab_analytes_for(user) if visit.definition.week > 0 else frozenset()
        return tuple(a for a in protocol().labs if a.code not in hidden)

    def form_kwargs(self, visit: Visit, user: Any) -> dict[str, Any]:
        return {"visit": visit, "analytes": self.analytes(visit, user)}

    def form_values(self, visit: Visit, values: dict[str, Any], user: Any) -> dict[str, Any]:
        offered = {a.code: a for a in self.analytes(visit, user)}
        live = {lab.analyte: lab for lab in getattr(visit, "live_labs", [])}
        errors: dict[str, str] = {}
        out = {k: v for k, v in values.items() if k != "results"}
        for i, row in enumerate(values["results"]):
            code, where = row["analyte"], f"results[{i}]"
            analyte = offered.get(code)
            if analyte is None:
                errors[f"{where}.analyte"] = f"Not an analyte you enter at this visit: one of {', '.join(offered)}."
                continue
            if f"{code}_version" in out:
                errors[f"{where}.analyte"] = f"{code} is given twice."
                continue
            if analyte.duplicates and row.get("value") is not None:
                errors[f"{where}.value"] = (
                    f"{analyte.label} is measured in duplicate: give replicate_1 and replicate_2."
                )
            if not analyte.duplicates and (row.get("replicate_1") is not None or row.get("replicate_2") is not None):
                errors[f"{where}.replicate_1"] = f"{analyte.label} takes one value: give value."
            if row.get("version") is not None and code not in live:
                errors[f"{where}.version"] = "There is no saved result to change: leave out version to enter it."
            for name in ("replicate_1", "replicate_2") if analyte.duplicates else ("value",):
                out[f"{code}_{name}"] = row.get(name)
            out[f"{code}_version"] = row.get("version")
        if errors:
            raise ValidationError(errors)
        return out

    def editing(self, visit: Visit, values: dict[str, Any]) -> bool:
        return any(v is not None for k, v in values.items() if k.endswith("_version"))

    def form_soft_warnings(self, visit: Visit, form: Any) -> list[SoftFinding]:
        d = form.cleaned_data
        found = soft_checks.draw_time_warnings(visit.pk, "sample_time", d.get("sample_time")) if form.entered() else []
        return found + soft_checks.lab_warnings(
            visit_id=visit.pk, week=visit.definition.week, analytes=form.analytes, values=d
        )

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        d = form.cleaned_data
        saved = []
        for row in form.entered():
            code = row.pop("analyte")
            try:
                saved.append(
                    lab_record(
                        visit=visit,
                        analyte=code,
                        sample_time=d["sample_time"],
                        by=by,
                        assay_batch=d.get("assay_batch") or "",
                        reason=reason,
                        **row,
                    )
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and not isinstance(exc, VersionMissingError):
                    raise ValidationError({f"{code}_{k}": v for k, v in exc.error_dict.items()}) from exc
                raise
        return saved


class LabSampleApi(_VisitFormApi):
    """The sample for the analytes whose post-baseline values reveal the arm: when the blood was drawn
    and the tube's label, what blinded staff record (trial.blinding; the laboratory's file brings the
    results to the unblinded statistician)."""

    form_class = LabSampleForm

    class Input(_VisitInput):
        drawn_at = serializers.DateTimeField()
        tube_id = serializers.CharField(max_length=40)

    class Output(_RecordOutput):
        drawn_at = serializers.DateTimeField()
        tube_id = serializers.CharField()

    @extend_schema(request=Input, responses=write_responses(Output, created=True, also_ok=True))
    def put(self, request: Request, visit_pk: int) -> Response:
        return super().put(request, visit_pk)

    def existing(self, visit: Visit) -> Any:
        return selectors.visit_lab_sample(visit)

    def form_soft_warnings(self, visit: Visit, form: Any) -> list[SoftFinding]:
        return soft_checks.draw_time_warnings(visit.pk, "drawn_at", form.cleaned_data.get("drawn_at"))

    def record(self, visit: Visit, form: Any, *, by: Any, version: int | None, reason: str) -> Any:
        d = form.cleaned_data
        return lab_sample_record(
            visit=visit, drawn_at=d["drawn_at"], tube_id=d["tube_id"], by=by, reason=reason, version=version
        )


class VisitDateApi(WriteApi):
    """The date a visit was done (out of window: accepted, flagged, queried). The visit exists from
    randomization, so every request names the visit's version; changing a done visit's date needs a
    reason for change."""

    capability = Capability.ENTER_DATA

    class Input(serializers.Serializer[Any]):
        actual_date = serializers.DateField()
        version = serializers.IntegerField(required=False, allow_null=True, min_value=0)
        reason = serializers.CharField(required=False, allow_blank=True)

    Output = VisitOutput

    @extend_schema(request=Input, responses=write_responses(Output))
    def put(self, request: Request, visit_pk: int) -> Response:
        visit = selectors.visit_for_form(visit_pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        _version_required(visit, data.validated_data)
        form = form_clean(
            VisitDateForm, data.validated_data, facts={"timeline": visit.participant.timeline()}, visit=visit
        )
        findings = soft_checks.visit_order_warnings(visit) if visit.status != Visit.Status.DONE else []
        warnings = _warnings_log(visit, findings, request.user)
        d = form.cleaned_data
        visit.version = d["version"]
        saved = visit_form_save(
            visit=visit,
            by=request.user,
            write=lambda: visit_complete(
                visit=visit, actual_date=d["actual_date"], by=request.user, reason=d.get("reason") or ""
            ),
        )
        return Response(self.Output(saved, context={"warnings": warnings}).data)


class VisitMissedApi(WriteApi):
    """Record a visit as missed, with a coded reason of the protocol file's [missed_visits] list."""

    capability = Capability.ENTER_DATA

    class Input(serializers.Serializer[Any]):
        missed_reason_code = serializers.CharField(required=False, allow_blank=True)
        missed_reason = serializers.CharField(required=False, allow_blank=True)
        version = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    Output = VisitOutput

    @extend_schema(request=Input, responses=write_responses(Output))
    def post(self, request: Request, visit_pk: int) -> Response:
        visit = selectors.visit_for_form(visit_pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        _version_required(visit, data.validated_data)
        d = form_clean(MissedVisitForm, data.validated_data).cleaned_data
        finding = missed_before_window_finding(visit)
        warnings = _warnings_log(
            visit, [finding] if finding is not None and finding.kind == "warning" else [], request.user
        )
        visit.version = d["version"]
        try:
            saved = visit_form_save(
                visit=visit,
                by=request.user,
                write=lambda: visit_miss(
                    visit=visit, reason_code=d["missed_reason_code"], reason=d["missed_reason"] or "", by=request.user
                ),
            )
        except SoftCheckRefused as exc:
            # After the refused save's transaction rolled back: the refusal itself is counted.
            _warnings_log(visit, [exc.finding], request.user)
            raise
        return Response(self.Output(saved, context={"warnings": warnings}).data)


def _version_required(visit: Visit, values: Any) -> None:
    if values.get("version") is None:
        raise VersionMissingError(
            f"Send the version of the visit you started from (now {visit.version}).", current_version=visit.version
        )
