"""Type names shared by services."""

from typing import TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# The user a service acts for: `request.user` as a login-required view hands it over.
Actor: TypeAlias = AbstractBaseUser | AnonymousUser
