"""API tokens, session cookies and CSRF tokens: random values, stored hashed or signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

TOKEN_PREFIX = "cvt_"
SESSION_COOKIE = "conveyor_session"
# Set before sign-in, so that the login form's CSRF token is tied to this browser.
PRESESSION_COOKIE = "conveyor_presession"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def new_api_token() -> str:
    """A high-entropy token (256 bits); only its hash is ever stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token. A plain SHA-256 suffices: the token is random and long,
    so there is nothing to brute-force, and lookups by hash stay one indexed query."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A key for one purpose, derived from CONVEYOR_SECRET_KEY, so that a cookie signature
    can never be replayed as another kind of token."""
    return hmac.new(secret_key.encode(), f"conveyor:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """What a signed session cookie says: who, until when, and a nonce tying the CSRF token."""

    user: str
    expires: float
    nonce: str
    fingerprint: str


class Signer:
    """Signs and checks session cookies and CSRF tokens with keys derived from one secret."""

    def __init__(self, secret_key: str, *, max_age: float = 12 * 3600) -> None:
        self._session_key = derive_key(secret_key, "session")
        self._csrf_key = derive_key(secret_key, "csrf")
        self.max_age = max_age

    def sign_session(self, user: str, fingerprint: str) -> str:
        """A cookie value for `user`; `fingerprint` changes when their password does."""
        payload = {
            "u": user,
            "e": time.time() + self.max_age,
            "n": secrets.token_urlsafe(16),
            "f": fingerprint,
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return body + "." + self._mac(self._session_key, body)

    def read_session(self, value: str | None) -> Session | None:
        """The session a cookie carries, or None when it is missing, forged or expired."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(self._session_key, body)):
            return None
        try:
            data = json.loads(_unb64(body))
            session = Session(str(data["u"]), float(data["e"]), str(data["n"]), str(data["f"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def csrf_token(self, nonce: str) -> str:
        """The CSRF token bound to a session's (or a pre-session cookie's) nonce."""
        return self._mac(self._csrf_key, nonce)

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        """True when `token` is the CSRF token of `nonce`."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))

    @staticmethod
    def _mac(key: bytes, text: str) -> str:
        return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())


def password_fingerprint(password_hash: str | None) -> str:
    """A short digest of the stored hash: sessions die when the password changes."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]
