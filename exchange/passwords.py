"""The rule for new passwords: at least 12 characters and not a common password.

The list is the 10,000 most common passwords of the 20,000 Django ships
(`django/contrib/auth/common-passwords.txt.gz`, compiled by Royce Williams from public
breach corpora, lower-cased, BSD licence), kept here as package data so that nothing
is downloaded at run time (the exchange runs on closed government networks).
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

MIN_LENGTH = 12


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("exchange").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").splitlines())


def weakness(password: str) -> str | None:
    """Why `password` may not be used (in Chinese first, for the user), or None if it may."""
    if len(password) < MIN_LENGTH:
        return (
            f"密码至少需要 {MIN_LENGTH} 个字符 (a password needs at least {MIN_LENGTH} characters)"
        )
    if password.strip().lower() in common_passwords():
        return "该密码过于常见，请另选一个 (this password is too common; choose another)"
    return None
