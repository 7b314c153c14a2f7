"""User administration that cannot be used to break the blind.

Django's stock UserAdmin lets anyone with "change user" tick is_superuser, edit raw permissions and
join any group, including their own account. Here a non-superuser administrator manages accounts
and blinded roles only; unblinded roles are offered only where `may_grant_role` says so,
and nobody changes their own roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from trial.accounts.policy import may_grant_role
from trial.core.admin import ModelAdmin
from trial.core.models import User

if TYPE_CHECKING:
    # The stubs make UserAdmin generic; at run time it is not subscriptable.
    _UserAdmin = UserAdmin[User]
else:
    _UserAdmin = UserAdmin


class StratumUserAdmin(_UserAdmin):
    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = {"is_superuser", "user_permissions"}
        if obj is not None and obj.pk == request.user.pk:
            hidden |= {"groups", "is_staff", "is_active"}
        return [
            (name, opts | {"fields": tuple(f for f in opts["fields"] if f not in hidden)}) for name, opts in fieldsets
        ]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups":
            allowed = [g.pk for g in Group.objects.all() if may_grant_role(request.user, g.name)]
            kwargs["queryset"] = Group.objects.filter(pk__in=allowed)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if "groups" in form.cleaned_data:
            before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
            after = {g.name for g in form.cleaned_data["groups"]}
            for name in before ^ after:
                if not may_grant_role(request.user, name):
                    raise PermissionDenied(f"You may not grant or remove the role {name}.")
        super().save_related(request, form, formsets, change)


admin.site.register(User, StratumUserAdmin)


class StratumGroupAdmin(ModelAdmin):
    """Roles are groups looked up by name, so renaming or re-permissioning one is a superuser's job."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


admin.site.unregister(Group)
admin.site.register(Group, StratumGroupAdmin)
