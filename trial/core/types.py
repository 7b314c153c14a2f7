"""The one user type of Stratum's services and views."""

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser

from trial.core.models import User

# The user a view hands to a service: `request.user`, which may be anonymous on paper. Services
# narrow it with `trial.access.require`, which returns the authenticated `User` or refuses.
Actor: TypeAlias = User | AnonymousUser
