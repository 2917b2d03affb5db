"""Password hashing and bearer tokens."""

from __future__ import annotations

import hashlib

from exchange.config import Settings
from exchange.edge import auth


def test_a_password_verifies_against_its_own_hash_only():
    stored = auth.hash_password("correct horse 電池")
    assert stored.startswith("$argon2id$")
    assert auth.verify_password(stored, "correct horse 電池")
    assert not auth.verify_password(stored, "correct horse")
    assert not auth.verify_password(stored, "")


def test_the_same_password_hashes_differently_each_time():
    assert auth.hash_password("pw-123456") != auth.hash_password("pw-123456")


def test_a_malformed_stored_hash_is_a_mismatch_not_an_error():
    assert not auth.verify_password("not-a-hash", "anything")
    assert not auth.verify_password("", "anything")


def test_hashing_cost_comes_from_settings():
    cheap = auth.make_hasher(
        Settings(argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1)
    )
    stronger = auth.make_hasher(
        Settings(argon2_time_cost=2, argon2_memory_kib=128, argon2_parallelism=1)
    )
    stored = auth.hash_password("pw", cheap)
    assert "m=64,t=1,p=1" in stored
    assert auth.verify_password(stored, "pw", stronger)  # parameters travel with the hash
    assert auth.needs_rehash(stored, stronger)
    assert not auth.needs_rehash(stored, cheap)


def test_tests_run_with_cheap_hashing():
    assert "m=64,t=1,p=1" in auth.hash_password("pw")


def test_new_tokens_are_random_and_stored_only_as_their_sha256():
    tokens = {auth.new_token() for _ in range(100)}
    assert len(tokens) == 100
    token, stored = next(iter(tokens))
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    assert token not in stored
    assert stored == hashlib.sha256(token.encode()).hexdigest() == auth.token_hash(token)
    assert auth.token_matches(token, stored)
    assert not auth.token_matches(token + "x", stored)
