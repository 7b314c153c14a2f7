"""The health check, and the base every data-entry page of Stratum is built on.

`RecordFormView` is the one place that decides how a form page behaves: GET shows the form with the
saved values; POST validates, hands the cleaned data to a service, and then either redirects, or
re-renders with every typed value and a message next to each bad field, or, when someone else saved
the record in the meantime, shows the conflict page with both versions. It never writes itself.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.decorators.http import require_POST

from trial.core.forms import apply_service_errors
from trial.core.middleware import session_touch
from trial.core.models import ClinicalRecord, FormSubmission, User
from trial.core.request_safety import BUSY_MESSAGE
from trial.core.services import ConflictError

ALREADY_SAVED = "This form was already saved: here is the record. Nothing was saved twice."
# The form field that carries which warnings the user has read ("Save anyway").
WARNINGS_SEEN = "warnings_seen"


def warnings_digest(messages_: list[str]) -> str:
    """Names the exact warnings shown: a changed value that warns differently is shown again."""
    return hashlib.sha256("\n".join(messages_).encode()).hexdigest()[:32]


def token_claim(user: Any, value: str | None) -> FormSubmission | None:
    """A form's one-time token: a new row (this submission saves), or the row of the submission that
    already saved (this one only shows what it made). A concurrent twin waits on the unique token
    until the first commits, then finds its row; if the first failed, its row is gone. Call it inside
    the transaction that saves, so a refused save releases the token for the corrected resubmission."""
    if not value or not isinstance(user, User):
        return None
    try:
        with transaction.atomic():
            return FormSubmission.objects.create(token=value, user=user)
    except IntegrityError:
        # Another person's token (they cannot know it: 128 random bits) never shows their record.
        return FormSubmission.objects.filter(token=value, user=user).first()


def submit_once(request: HttpRequest, form: forms.Form, act: Callable[[], str]) -> HttpResponse:
    """Run `act` (one service call; it returns the URL that shows what it made) at most once per form
    token, and redirect there. A repeated POST of the same form (double click, browser resend)
    redirects to what the first one made and says so. A ValidationError from `act` propagates with
    the transaction rolled back and the token free again."""
    with transaction.atomic():
        token = token_claim(request.user, form.cleaned_data.get("submission_token"))
        if token is not None and token.result_url:
            messages.info(request, ALREADY_SAVED)
            return redirect(token.result_url)
        url = act()
        if token is not None:
            token.result_url = url
            token.save(update_fields=["result_url"])
    return redirect(url)


class RecordFormView(LoginRequiredMixin, View):
    """Each concrete page puts `trial.access.CapabilityRequiredMixin` first in its bases and names its
    capability. Until that mixin has decided, the page refuses (fails closed): a page that forgot to
    name one is a 403, never open to every role."""

    template_name = "core/record_form.html"
    fields_template = "core/_fields.html"
    form_class: type[forms.Form]
    title = ""
    submit_label = "Save"
    # Service error keys that are named differently on the form.
    service_field_map: dict[str, str] = {}

    # --- what each page says -------------------------------------------------------------------
    def load(self) -> None:
        """Read the objects the page is about (selectors only)."""

    def existing(self) -> ClinicalRecord | None:
        """The saved record this form edits, if any: used to catch a record created meanwhile."""
        return None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {}

    def get_initial(self) -> dict[str, Any]:
        return {}

    def save(self, form: Any) -> Any:
        raise NotImplementedError

    def success_url(self, saved: Any) -> str:
        raise NotImplementedError

    def success_message(self, saved: Any) -> str:
        return "Saved."

    def get_context(self) -> dict[str, Any]:
        return {}

    def form_facts(self) -> dict[str, Any]:
        """Values the form's rules read that the user does not type (a participant's timeline)."""
        return {}

    def soft_warnings(self, form: Any) -> list[Any]:
        """Soft checks that warn on what was typed (objects with a `message`). The form is shown again
        with them, every value kept, and saves once the user confirms having read them."""
        return []

    def soft_warnings_shown(self, form: Any, warnings: list[Any]) -> None:
        """Record that the warnings were shown (a service call): the Edit checks page counts them."""

    # --- the behaviour every page shares -------------------------------------------------------
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated and not getattr(self, "access_decided", False):
            raise PermissionDenied("This page names no capability.")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        self.load()
        initial = self.get_initial()
        if "submission_token" in self.form_class.base_fields:
            initial = initial | {"submission_token": uuid.uuid4().hex}
        return self.render_form(self.form_class(initial=initial, **self.get_form_kwargs()))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        self.load()
        form = self.form_class(data=request.POST, **self.get_form_kwargs())
        if hasattr(form, "facts"):
            form.facts = self.form_facts()
        if form.is_valid():
            warnings = self.soft_warnings(form)
            texts = [w.message for w in warnings]
            if warnings and request.POST.get(WARNINGS_SEEN) != warnings_digest(texts):
                self.soft_warnings_shown(form, warnings)
                return self.render_form(form, warnings=texts)
            try:
                with transaction.atomic():
                    token = token_claim(self.request.user, form.cleaned_data.get("submission_token"))
                    if token is not None and token.result_url:
                        messages.info(request, ALREADY_SAVED)
                        return redirect(token.result_url)
                    self.check_not_created_meanwhile(form)
                    saved = self.save(form)
                    if token is not None:
                        token.result_url = self.success_url(saved)
                        token.save(update_fields=["result_url"])
            except ConflictError as exc:
                return self.render_conflict(form, exc)
            except ValidationError as exc:
                apply_service_errors(form, exc, self.service_field_map)
            except OperationalError:
                # The write lock was held past the busy timeout (SQLite) or the connection dropped:
                # the transaction rolled back. Say so, and keep every typed value for a second try.
                form.add_error(None, BUSY_MESSAGE)
                return self.render_form(form, status=503)
            else:
                messages.success(request, self.success_message(saved))
                return redirect(self.success_url(saved))
        return self.render_form(form)

    def check_not_created_meanwhile(self, form: Any) -> None:
        # The form was opened empty (no version) but the record exists now: someone else entered
        # it meanwhile. Saving would overwrite their values, so it is a conflict like any other.
        current = self.existing()
        if current is not None and "version" in form.fields and not form.cleaned_data.get("version"):
            attempted = copy.copy(current)
            attempted.version = 0
            raise ConflictError(current=current, attempted=attempted)

    def render_form(self, form: Any, status: int = 200, warnings: list[str] | None = None) -> HttpResponse:
        context = {
            "form": form,
            "title": self.title,
            "fields_template": self.fields_template,
            "submit_label": "Save anyway" if warnings else self.submit_label,
            "soft_warnings": warnings or [],
            "warnings_digest": warnings_digest(warnings) if warnings else "",
            **self.get_context(),
        }
        return render(self.request, self.template_name, context, status=status)

    def render_conflict(self, form: Any, exc: ConflictError) -> HttpResponse:
        """Both versions side by side, and the user's values in a form that now starts from the saved version."""
        values: dict[str, Any] = {
            k: (v if len(v) > 1 else v[0]) for k, v in self.request.POST.lists() if k != "csrfmiddlewaretoken"
        }
        values[self.version_field(exc.current)] = exc.current.version
        reapply = self.form_class(initial=values, **self.get_form_kwargs())
        rows = [
            (label, saved, yours, _differs(saved, yours)) for label, saved, yours in form.conflict_rows(exc.current)
        ]
        context = {
            "form": reapply,
            "title": self.title,
            "fields_template": self.fields_template,
            "submit_label": "Save my values",
            "current": exc.current,
            "rows": rows,
            "conflict": True,
            **self.get_context(),
        }
        return render(self.request, "core/conflict.html", context, status=409)

    def version_field(self, current: ClinicalRecord) -> str:
        return "version"


def _differs(saved: Any, yours: Any) -> bool:
    def norm(v: Any) -> str:
        return "" if v is None else str(v).strip()

    try:
        return float(norm(saved)) != float(norm(yours))
    except ValueError:
        return norm(saved) != norm(yours)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


@require_POST
@login_required
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """The idle warning's "Stay logged in" button: a deliberate action by the user, so it counts as
    activity (trial.core.middleware.IdleTimeoutMiddleware)."""
    session_touch(request)
    return HttpResponse(status=204)
