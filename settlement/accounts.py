"""Parties and the system accounts the registry creates for itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ENTERPRISE = "enterprise"
    CITY_BUREAU = "city_bureau"
    PROVINCE = "province"
    OPERATOR = "operator"
    # System accounts, created by the registry itself and never through OpenAccount.
    FEES = "fees"
    RESERVE = "reserve"
    CITY_POOL = "city_pool"


OPENABLE_ROLES = frozenset({Role.ENTERPRISE, Role.CITY_BUREAU, Role.PROVINCE, Role.OPERATOR})
CASH_ROLES = frozenset({Role.ENTERPRISE, Role.RESERVE, Role.FEES})
TRADING_ROLES = frozenset({Role.ENTERPRISE, Role.RESERVE})

FEES_ACCOUNT = "FEES"
RESERVE_ACCOUNT = "RESERVE"
RESERVE_SOURCE = "reserve"
"""How a reallocation source or a ledger counterparty names the provincial reserve."""


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    role: Role
    city_code: str
    """"" for accounts in no city: the province, the operator, FEES and RESERVE."""

    @property
    def ledger_city(self) -> str | None:
        """The city whose ledger row this account's allowances count in.

        Only enterprises and pools hold allowances in a city; the reserve is
        provincial, and the other roles hold none."""
        if self.role in (Role.ENTERPRISE, Role.CITY_POOL):
            return self.city_code
        return None
