"""Passwords (Argon2id) and bearer tokens (random, stored only as a SHA-256 hash)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from exchange.config import Settings, get_settings

TOKEN_BYTES = 32


def make_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


@lru_cache(maxsize=1)
def _default_hasher() -> PasswordHasher:
    # Cost comes from the environment (EMX_ARGON2_*), so tests can make hashing cheap.
    return make_hasher(get_settings())


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _default_hasher()).hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher | None = None) -> bool:
    """True only if `password` matches; a malformed stored hash is a mismatch, not an error."""
    try:
        return (hasher or _default_hasher()).verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    return (hasher or _default_hasher()).check_needs_rehash(stored_hash)


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the hash to store; the token itself is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # A fast hash is enough: the token has 256 random bits, there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
