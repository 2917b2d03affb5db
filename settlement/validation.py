"""Checks shared by the command handlers; each raises SettlementError and changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from settlement.accounts import Account, Role
from settlement.errors import ErrorCode, SettlementError


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_positive(value: object, what: str) -> int:
    if not is_int(value) or value <= 0:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT, f"{what} must be a positive integer, got {value!r}"
        )
    return value


def require_new_id(value: object, existing: dict, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettlementError(ErrorCode.INVALID_ID, f"{what} id must be a non-empty string")
    if value in existing:
        raise SettlementError(ErrorCode.DUPLICATE_ID, f"{what} {value!r} exists")
    return value


def require_role(account: Account, roles: Iterable[Role], action: str) -> None:
    if account.role not in roles:
        raise SettlementError(
            ErrorCode.NOT_ALLOWED, f"{account.account_id} ({account.role}) may not {action}"
        )


def require_note(note: object, what: str) -> None:
    if not isinstance(note, str) or not note.strip():
        raise SettlementError(ErrorCode.NOTE_REQUIRED, f"{what} needs a note saying why")
