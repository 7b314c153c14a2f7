"""DRF token authentication against `ApiToken` ("Authorization: Token <key>").

Scripts use it; the browser keeps the session. The token's owner must still be active, and the
request then meets the same `CapabilityPermission` as a session request does.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from trial.accounts.two_factor import two_factor_required
from trial.exports.models import ApiToken, roles_fingerprint, token_digest

KEYWORD = b"token"


class TokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header: give 'Token' and the token, separated by a space.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        token = ApiToken.objects.select_related("user").filter(key_sha256=token_digest(key)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise AuthenticationFailed("Invalid or revoked token.")
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise AuthenticationFailed("This token has expired: issue a new one.")
        if token.roles_at_issue != roles_fingerprint(token.user):
            raise AuthenticationFailed("The owner's roles changed after this token was issued: issue a new one.")
        if two_factor_required(token.user):
            # A token cannot carry a second factor (21 CFR 11.300): accounts that must give one (the
            # unblinded roles, administrators, superusers) use the browser session only.
            raise AuthenticationFailed(
                "This account must sign in with a second factor; tokens are not accepted for it."
            )
        from trial.exports.services import api_token_touch

        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes the token: an `Authorization: Token <key>` header."""

    target_class = "trial.exports.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <key>"}
