"""Signatures on the ``thinking`` blocks the gateway returns, checked when a client sends a block back.

A thinking block that comes back in the history is reasoning the model will read as its own. The gateway only
trusts blocks it produced: the signature is an HMAC-SHA256 of the thinking text under a secret every replica
shares (policy ``messages.signing_secret_env``), so a block that was edited, made up, or produced by another
service (Anthropic's own signatures, ``redacted_thinking`` blocks) fails the check and is dropped or refused,
as ``messages.on_invalid_thinking`` says.

Format: ``tg1.`` + base64url (no padding) of the 32-byte MAC. The version prefix lets a later format coexist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_PREFIX = "tg1."
_DOMAIN = b"thinkgate/messages/thinking/v1\n"


class ThinkingSigner:
    """Signs and verifies thinking texts under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the thinking-block signing secret must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def ephemeral(cls) -> ThinkingSigner:
        """A random secret for this process only (blocks fail on other replicas and after a restart)."""
        return cls(secrets.token_bytes(32))

    def _mac(self, thinking: str) -> bytes:
        return hmac.new(self._secret, _DOMAIN + thinking.encode("utf-8"), hashlib.sha256).digest()

    def sign(self, thinking: str) -> str:
        return _PREFIX + base64.urlsafe_b64encode(self._mac(thinking)).rstrip(b"=").decode("ascii")

    def verify(self, thinking: str, signature: str) -> bool:
        """True only for a signature this secret made for exactly this text (constant-time compare)."""
        if not signature.startswith(_PREFIX):
            return False
        raw = signature[len(_PREFIX) :]
        try:
            mac = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (ValueError, UnicodeEncodeError):
            return False
        return hmac.compare_digest(mac, self._mac(thinking))
