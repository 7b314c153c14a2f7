"""The REST API's root, its documentation, and the export datasets as paginated JSON.

The datasets come from the same engine as the files (trial.exports.datasets asks trial.blinding),
so the API holds no arm, kit id or hidden lab for a blinded user either, and each page read is
written to the access log like a file export (21 CFR 11.10(e)).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trial.access import Capability, CapabilityRequiredMixin, can
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent
from trial.exports.datasets import dataset_table, datasets_for
from trial.exports.dictionary import DATASETS_BY_CODE
from trial.exports.selectors import codebook_for

PAGE_PARAMETER = OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1.")


class RowsPagination(PageNumberPagination):
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


def _paginated(name: str, item: Any) -> Any:
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )


class ApiRootApi(APIView):
    """What the API offers, with links: GET it to start."""

    capability = Capability.VIEW_PARTICIPANTS

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        links = {
            "participants": reverse("api-participant-list"),
            "adverse_events": reverse("api-adverse-event-list"),
            "schema": reverse("api-schema"),
            "docs": reverse("api-docs"),
        }
        if can(request.user, Capability.ENTER_DATA):
            # The other write endpoints hang off a participant or a visit (README, "REST API: write endpoints").
            links["screen"] = reverse("api-participant-screen")
        if can(request.user, Capability.EXPORT):
            links["export_datasets"] = reverse("api-export-datasets")
            links["codebook"] = reverse("api-export-codebook")
        return Response({name: request.build_absolute_uri(url) for name, url in links.items()})


class DatasetListApi(APIView):
    """The export datasets this user may read."""

    capability = Capability.EXPORT

    class Output(serializers.Serializer[Any]):
        code = serializers.CharField()
        label = serializers.CharField()  # type: ignore[assignment]
        description = serializers.CharField()
        url = serializers.CharField()

    @extend_schema(responses=Output(many=True))
    def get(self, request: Request) -> Response:
        rows = [
            {
                "code": d.code,
                "label": d.label,
                "description": d.description,
                "url": request.build_absolute_uri(reverse("api-export-dataset", args=[d.code])),
            }
            for d in datasets_for(request.user)
        ]
        return Response(self.Output(rows, many=True).data)


class DatasetRowsApi(APIView):
    """One dataset's rows, a page at a time (`?page=2`), with the codebook's variable names as keys."""

    capability = Capability.EXPORT

    @extend_schema(
        parameters=[PAGE_PARAMETER],
        responses=_paginated("DatasetRows", serializers.ListField(child=serializers.DictField())),
    )
    def get(self, request: Request, dataset: str) -> Response:
        if dataset not in DATASETS_BY_CODE:
            raise Http404
        try:
            table = dataset_table(dataset, user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        rows = json.loads(table.frame.to_json(orient="records", date_format="iso"))
        paginator = RowsPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        access_event_record(
            kind=AccessEvent.Kind.EXPORT,
            user=request.user,
            target=f"api {dataset}",
            detail={"page": request.query_params.get("page", "1"), "rows": len(page or [])},
        )
        return paginator.get_paginated_response(page)


class CodebookApi(APIView):
    """The data dictionary of the datasets this user may read."""

    capability = Capability.EXPORT

    class Output(serializers.Serializer[Any]):
        dataset = serializers.CharField()
        dataset_label = serializers.CharField()
        name = serializers.CharField()
        label = serializers.CharField()  # type: ignore[assignment]
        type = serializers.CharField()
        units = serializers.CharField(allow_blank=True)
        value_labels = serializers.CharField(allow_blank=True)

    @extend_schema(responses=Output(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.Output(codebook_for(request.user), many=True).data)


class SchemaApi(SpectacularAPIView):
    """The OpenAPI 3 schema (drf-spectacular), for every logged-in role."""

    capability = Capability.VIEW_PARTICIPANTS


class ApiDocsView(CapabilityRequiredMixin, APIView):
    """Readable API documentation from the OpenAPI schema, rendered here: the Content Security Policy
    allows no third-party script, so no Swagger UI or Redoc from a CDN."""

    capability = Capability.VIEW_PARTICIPANTS

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest) -> HttpResponse:
        schema = SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
        operations = []
        for path, methods in sorted(schema.get("paths", {}).items()):
            for method, op in methods.items():
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "description": op.get("description", ""),
                        "parameters": [p["name"] for p in op.get("parameters", [])],
                    }
                )
        return render(request, "exports/api_docs.html", {"operations": operations})
