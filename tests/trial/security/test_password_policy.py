"""Passwords: at least 12 characters, not common, not all digits, not like the user's name
(21 CFR 11.300)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from trial.core.models import User


@pytest.mark.parametrize(
    "password",
    [
        "84736251",  # all digits, and short
        "847362519046",  # all digits, 12 long
        "Tr1al-short",  # 11 characters
        "password1234",  # common
    ],
)
def test_it_refuses_weak_passwords(password: str) -> None:
    with pytest.raises(ValidationError):
        password_validation.validate_password(password)


@pytest.mark.django_db
def test_it_refuses_a_password_like_the_username() -> None:
    user: Any = User(username="margaret.okafor", first_name="Margaret", last_name="Okafor")
    with pytest.raises(ValidationError):
        password_validation.validate_password("margaret.okafor1", user=user)


def test_it_accepts_a_long_uncommon_passphrase() -> None:
    password_validation.validate_password("copper kettle wander 71")
