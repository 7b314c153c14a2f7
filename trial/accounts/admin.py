"""User administration that cannot be used to break the blind.

Django's stock UserAdmin lets anyone with "change user" tick is_superuser, edit raw permissions,
join any group (their own account included) and reset any password. Here a non-superuser
administrator manages blinded accounts only: accounts that hold an unblinded role, a code-break
approval right or superuser status are invisible to them, so they can neither list, change, reset,
deactivate nor log in as one (trial.accounts.policy). Nobody changes their own roles, and every
grant and revoke is recorded and e-mailed to the other superusers (trial.accounts.services).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from trial.accounts.models import RoleChange
from trial.accounts.policy import (
    SUPERUSER_STATUS,
    may_change_roles_of,
    may_grant_role,
    may_manage_account,
    superuser_only_roles,
)
from trial.accounts.services import role_change_check, role_changes_record, site_memberships_set
from trial.core.access_log import role_actor
from trial.core.admin import ModelAdmin, ReadOnlyAdminMixin
from trial.core.models import User
from trial.core.roles import ROLE_LABELS, Role, role_label
from trial.participants.models import SiteMembership
from trial.protocol.models import Site

if TYPE_CHECKING:
    # The stubs make UserAdmin generic; at run time it is not subscriptable.
    _UserAdmin = UserAdmin[User]
    _UserChangeForm = UserChangeForm[User]
else:
    _UserAdmin = UserAdmin
    _UserChangeForm = UserChangeForm


SITE_FIELDS = ("sites", "site_change_reason")


class StratumUserChangeForm(_UserChangeForm):
    """The user form with the account's site memberships (trial.participants.scope): which sites'
    participants a site-bound role may reach. A change needs a reason, kept in the membership's
    history and the access log (21 CFR 11.10(e))."""

    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Site-bound roles (coordinator, rater, investigator, pharmacist, medical monitor) reach only "
        "the participants of these sites; trial-wide roles reach every site.",
    )
    site_change_reason = forms.CharField(
        label="Reason for the site change", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites_before: set[int] = set()
        if self.instance.pk and "sites" in self.fields:
            self.sites_before = set(
                SiteMembership.objects.filter(user=self.instance, revoked_at__isnull=True).values_list(
                    "site_id", flat=True
                )
            )
            self.fields["sites"].initial = sorted(self.sites_before)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        changed = "sites" in data and {s.pk for s in data["sites"]} != self.sites_before
        if changed and not (data.get("site_change_reason") or "").strip():
            self.add_error("site_change_reason", "A reason is required to change site memberships.")
        return data


class RoleListFilter(admin.SimpleListFilter):
    """Filter accounts by role, named as people know the roles, not by the group's code."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(r.value, ROLE_LABELS[r]) for r in Role]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


class StratumUserAdmin(_UserAdmin):
    form = StratumUserChangeForm
    list_display = ("username", "email", "first_name", "last_name", "roles", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", RoleListFilter)

    @admin.display(description="roles")
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(role_label(g.name) for g in obj.groups.all()))

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request).prefetch_related("groups")
        if request.user.is_superuser:
            return qs
        protected = [r.value for r in superuser_only_roles()]
        return qs.exclude(is_superuser=True).exclude(groups__name__in=protected)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and (obj is None or may_manage_account(request.user, obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or may_manage_account(request.user, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or may_manage_account(request.user, obj))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or not may_change_roles_of(request.user, obj):
            # Nobody changes their own sites; an unrendered field must not read as "no sites".
            for name in SITE_FIELDS:
                form.base_fields.pop(name, None)
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and may_change_roles_of(request.user, obj):
            fieldsets = [*fieldsets, ("Sites", {"fields": SITE_FIELDS})]
        hidden: set[str] = set()
        if not request.user.is_superuser:
            hidden |= {"is_superuser", "user_permissions"}
        if obj is not None and not may_change_roles_of(request.user, obj):
            hidden |= {"groups", "is_superuser", "user_permissions", "is_staff", "is_active"}
        if not hidden:
            return fieldsets
        return [
            (name, opts | {"fields": tuple(f for f in opts["fields"] if f not in hidden)}) for name, opts in fieldsets
        ]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups":
            allowed = [g.pk for g in Group.objects.all() if may_grant_role(request.user, g.name)]
            kwargs["queryset"] = Group.objects.filter(pk__in=allowed)
            kwargs["label"] = "Roles"
            field = super().formfield_for_manytomany(db_field, request, **kwargs)
            if field is not None:
                field.label_from_instance = lambda group: role_label(group.name)  # type: ignore[method-assign,assignment]
            return field
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = User.objects.filter(pk=obj.pk).values_list("is_superuser", flat=True).first() if change else False
        before = {SUPERUSER_STATUS} if stored else set()
        after = {SUPERUSER_STATUS} if obj.is_superuser else set()
        role_change_check(by=request.user, account=obj, before=before, after=after)
        super().save_model(request, obj, form, change)
        if before != after:
            assert isinstance(request.user, User)  # role_change_check refused anyone anonymous
            role_changes_record(by=request.user, account=obj, before=before, after=after)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        self._save_roles(request, form, formsets, change)
        if "sites" in form.cleaned_data:
            site_memberships_set(
                by=request.user,
                account=form.instance,
                sites=form.cleaned_data["sites"],
                reason=form.cleaned_data.get("site_change_reason", ""),
            )

    def _save_roles(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if "groups" not in form.cleaned_data:
            super().save_related(request, form, formsets, change)
            return
        account = form.instance
        before = set(account.groups.values_list("name", flat=True)) if change else set()
        after = {g.name for g in form.cleaned_data["groups"]}
        role_change_check(by=request.user, account=account, before=before, after=after)
        with role_actor(request.user):
            super().save_related(request, form, formsets, change)
        if before != after:
            assert isinstance(request.user, User)  # role_change_check refused anyone anonymous
            role_changes_record(by=request.user, account=account, before=before, after=after)


admin.site.register(User, StratumUserAdmin)


@admin.register(RoleChange)
class RoleChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The grant log, read-only; its model permissions are held by no role, so superusers only."""

    list_display = ("at", "user", "role", "action", "by")
    list_filter = ("action", "role")


class StratumGroupAdmin(ModelAdmin):
    """Roles are groups looked up by name, so renaming or re-permissioning one is a superuser's job."""

    list_display = ("role", "name")

    @admin.display(description="role", ordering="name")
    def role(self, obj: Group) -> str:
        return role_label(obj.name)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


admin.site.unregister(Group)
admin.site.register(Group, StratumGroupAdmin)
