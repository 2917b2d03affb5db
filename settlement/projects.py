"""Construction projects under EIA approval, which use allowances for good (統籌使用)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from settlement.accounts import Role
from settlement.cities import pool_account_id
from settlement.commands import AllocateToProject, RegisterProject
from settlement.errors import ErrorCode, SettlementError
from settlement.events import ProjectAllocated, ProjectRegistered, ProjectSource
from settlement.ledger import USED
from settlement.validation import require_new_id, require_positive, require_role

if TYPE_CHECKING:
    from settlement.registry import Registry


class PriorityCategory(StrEnum):
    """The province's order of precedence for projects that need quota (保障類別)."""

    KEY_CONSTRUCTION = "key_construction"
    MAJOR_PLATFORM = "major_platform"
    STRATEGIC_CLUSTER = "strategic_cluster"
    COUNTY_TOWN_VILLAGE = "county_town_village"
    ORDINARY = "ordinary"


# Membership by value: `"x" in PriorityCategory` raises TypeError before Python 3.12.
PRIORITY_CATEGORIES = frozenset(PriorityCategory)


@dataclass(slots=True)
class Project:
    project_id: str
    owner_account_id: str
    name: str
    city_code: str
    priority_category: str
    symbol: str
    required_kg: int
    eia_reference: str
    registered_seq: int
    registered_ts_us: int
    bindings: list[list] = field(default_factory=list)
    """[lot_id, account_id, kg] in the order they were bound: the recorded source."""

    @property
    def allocated_kg(self) -> int:
        return sum(b[2] for b in self.bindings)

    @property
    def outstanding_kg(self) -> int:
        return self.required_kg - self.allocated_kg


def register(reg: Registry, cmd: RegisterProject) -> list:
    require_new_id(cmd.project_id, reg._projects, "project")
    owner = reg.require_account(cmd.owner_account_id)
    require_role(owner, (Role.ENTERPRISE,), "own a project")
    city = cmd.city_code or owner.city_code
    reg.require_city(city)
    if cmd.priority_category not in PRIORITY_CATEGORIES:
        raise SettlementError(
            ErrorCode.INVALID_PRIORITY_CATEGORY,
            f"unknown priority category {cmd.priority_category!r}",
        )
    reg.require_listing(cmd.symbol)
    require_positive(cmd.required_kg, "required_kg")
    reg._projects[cmd.project_id] = Project(
        cmd.project_id,
        owner.account_id,
        cmd.name,
        city,
        cmd.priority_category,
        cmd.symbol,
        cmd.required_kg,
        cmd.eia_reference,
        cmd.seq,
        cmd.ts_us,
    )
    return [
        ProjectRegistered(
            cmd.seq,
            cmd.ts_us,
            cmd.project_id,
            owner.account_id,
            cmd.name,
            city,
            cmd.priority_category,
            cmd.symbol,
            cmd.required_kg,
            cmd.eia_reference,
        )
    ]


def allocate(reg: Registry, cmd: AllocateToProject) -> list:
    project = reg.project(cmd.project_id)
    holder = reg.require_account(cmd.account_id)
    if holder.account_id not in (project.owner_account_id, pool_account_id(project.city_code)):
        raise SettlementError(
            ErrorCode.NOT_ALLOWED,
            f"{holder.account_id} is neither the owner of {project.project_id} "
            f"nor the pool of its city",
        )
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    if kg > project.outstanding_kg:
        raise SettlementError(
            ErrorCode.EXCEEDS_PROJECT_REQUIREMENT,
            f"{project.project_id} still requires {project.outstanding_kg} kg, not {kg}",
        )
    bag = reg._holdings.peek(holder.account_id, project.symbol).available
    if kg > bag.total():
        raise SettlementError(
            ErrorCode.INSUFFICIENT_ALLOWANCES,
            f"{holder.account_id} has {bag.total()} kg of {project.symbol} available",
        )

    seq, ts_us, symbol = cmd.seq, cmd.ts_us, project.symbol
    reference = f"project:{project.project_id}"
    portions = bag.select_oldest(kg)
    out: list = []
    # A holder elsewhere hands the quota over to the project's city before it is
    # used there, so both cities' rows keep equalling what their accounts hold.
    out += reg._ledger_transfer(
        seq, ts_us, symbol, holder.ledger_city, project.city_code, kg, reference
    )
    for p in portions:
        out.append(
            reg._holdings.post(
                seq, ts_us, holder.account_id, symbol, p, "use", -p[2], 0, p[2], reference
            )
        )
        project.bindings.append([p[1], holder.account_id, p[2]])
    out.append(reg._ledger.record(seq, ts_us, project.city_code, symbol, USED, kg, reference))
    this = _aggregate(reg, [[p[1], holder.account_id, p[2]] for p in portions])
    out.insert(
        0,
        ProjectAllocated(
            seq,
            ts_us,
            project.project_id,
            holder.account_id,
            symbol,
            kg,
            project.allocated_kg,
            project.required_kg,
            tuple(this),
        ),
    )
    return out


def sources_of(reg: Registry, project: Project) -> list[ProjectSource]:
    return _aggregate(reg, project.bindings)


def _aggregate(reg: Registry, bindings: list[list]) -> list[ProjectSource]:
    kg_by_lot: dict[str, int] = {}
    for lot_id, _account, kg in bindings:
        kg_by_lot[lot_id] = kg_by_lot.get(lot_id, 0) + kg
    out = []
    for lot_id, kg in kg_by_lot.items():
        lot = reg.lot(lot_id)
        out.append(
            ProjectSource(
                lot_id, lot.claim_id, lot.source_kind, lot.city_code, lot.origin_account_id, kg
            )
        )
    return out
