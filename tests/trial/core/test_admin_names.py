"""The admin speaks people's words: every registered model has a real plural ("HAM-D-17", "End of
study", not "Ham d17s", "End of studys"), and roles are shown by their human names, not their codes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib import admin

from trial.core.roles import ROLE_LABELS, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_it_names_every_registered_model_with_a_real_plural(model: Any) -> None:
    plural = str(model._meta.verbose_name_plural)
    singular = str(model._meta.verbose_name)
    for name in (singular, plural):
        assert not re.search(r"ss\b", name) or name.endswith(("class", "access", "process")), name
        assert not re.search(r"[^aeiou ]ys\b", name), f"naive plural of a word in -y: {name}"
        # Code-like names: a lower-case word glued to digits ("ham d17s"), or an identifier.
        assert not re.search(r"\b[a-z]+\d", name), f"a code, not a name: {name}"
        assert "_" not in name, name
    assert not re.search(r"\bd\d", plural.lower()), plural


@pytest.fixture
def superuser(users: Any) -> Any:
    from trial.core.models import User

    return User.objects.create_superuser("root", "root@example.org", "Root-password-1!")


def test_the_admin_index_uses_the_human_names(client: Any, superuser: Any) -> None:
    client.force_login(superuser)
    html = client.get("/admin/").content.decode()
    # (List entries are on the unblinded admin pages only: a superuser is not unblinded.)
    assert "HAM-D-17" in html and "End of study" in html and "Roles" in html
    for naive in ("Ham d17s", "End of studys", "List entrys", "Wastages"):
        assert naive not in html


def test_roles_are_shown_by_their_human_names(client: Any, superuser: Any, users: Any) -> None:
    client.force_login(superuser)
    groups = client.get("/admin/auth/group/").content.decode()
    assert ROLE_LABELS[Role.DATA_MANAGER] in groups and ROLE_LABELS[Role.STATISTICIAN_UNBLINDED] in groups
    user_page = client.get(f"/admin/core/user/{users['datamanager'].pk}/change/").content.decode()
    options = re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", user_page)
    assert ROLE_LABELS[Role.DATA_MANAGER] in options and "data_manager" not in options
    changelist = client.get("/admin/core/user/?role=pharmacist").content.decode()
    assert "Pharmacist (unblinded)" in changelist and "pharmacist2" in changelist
    assert ">coordinator<" not in changelist  # the role filter applies
