"""Stored passwords are Argon2id hashes in every deployed configuration (the test settings alone use a
fast hasher, to keep the suite quick), and older hashes are upgraded at the next login."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import override_settings

from trial.core.models import User
from trial.settings import base

PASSWORD = "Correct-horse-battery-7"


def test_the_deployed_settings_store_new_passwords_with_argon2id() -> None:
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$"), encoded


@pytest.mark.django_db
def test_a_pbkdf2_hash_still_logs_in_and_is_rehashed_with_argon2() -> None:
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        user = User.objects.create(username="legacy", password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
        assert user.password.startswith("pbkdf2_sha256$")
        assert not user.check_password("Wrong-horse-battery-7")
        assert user.check_password(PASSWORD)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
