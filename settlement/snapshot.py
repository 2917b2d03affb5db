"""The registry's whole state as canonical JSON (sorted keys, no spaces), and back.

Lists keep their order where order is state (lots in a bag, project bindings);
everything keyed is a sorted object, so equal states give equal bytes.
"""

from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum
from typing import TYPE_CHECKING

from settlement.accounts import Account, Role
from settlement.auctions import Auction, Bid
from settlement.block_trades import BlockTrade
from settlement.cash import CashBalance
from settlement.defects import SettlementDefect
from settlement.holdings import Holding
from settlement.holds import Hold
from settlement.lots import Lot, LotBag
from settlement.projects import Project
from settlement.reallocations import Application
from settlement.reductions import Claim

if TYPE_CHECKING:
    from settlement.registry import Registry

FORMAT = 1


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(obj: object) -> dict:
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


def dump(reg: Registry) -> bytes:
    state = {
        "format": FORMAT,
        "fee_bps": reg.fee_bps,
        "last_seq": reg.last_seq,
        "listings": {s: _plain(lst) for s, lst in reg._listings.items()},
        "accounts": {a: {**_plain(acc), "role": str(acc.role)} for a, acc in reg._accounts.items()},
        "cash": {a: _plain(b) for a, b in reg._cash.balances.items()},
        "deposited_fen": reg._cash.deposited_fen,
        "withdrawn_fen": reg._cash.withdrawn_fen,
        "holdings": {
            f"{a}|{s}": {**_plain(h), "available": h.available.to_json()}
            for (a, s), h in reg._holdings.holdings.items()
        },
        "lots": {lot_id: _plain(lot) for lot_id, lot in reg._lots.items()},
        "holds": {str(o): {**_plain(h), "lots": h.lots.to_json()} for o, h in reg._holds.items()},
        "claims": {k: _plain(v) for k, v in reg._claims.items()},
        "projects": {k: _plain(v) for k, v in reg._projects.items()},
        "applications": {k: _plain(v) for k, v in reg._applications.items()},
        "ledger": {f"{c}|{s}": row for (c, s), row in reg._ledger.rows.items()},
        "floors": {f"{c}|{s}": kg for (c, s), kg in reg._ledger.floors.items()},
        "issued_kg": reg._issued_kg,
    }
    # Only present once used, so the snapshots (and hashes) of older journals stay as they were.
    if reg._auctions:
        state["auctions"] = {
            k: {**_plain(a), "lots": a.lots.to_json()} for k, a in reg._auctions.items()
        }
        state["bids"] = {k: _plain(b) for k, b in reg._bids.items()}
    if reg._blocks:
        state["blocks"] = {
            k: {**_plain(b), "lots": b.lots.to_json()} for k, b in reg._blocks.items()
        }
    if reg._expired:
        state["expired"] = sorted(reg._expired)
    if reg._retired_kg:
        state["retired_kg"] = reg._retired_kg
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load(cls: type[Registry], data: bytes) -> Registry:
    from settlement.registry import Listing

    s = json.loads(data)
    if not (s["format"] == FORMAT):
        raise SettlementDefect(f"snapshot format {s['format']}, expected {FORMAT}")
    reg = cls(s["fee_bps"])
    reg.last_seq = s["last_seq"]
    reg._listings = {k: Listing(**v) for k, v in s["listings"].items()}
    reg._accounts = {k: Account(**{**v, "role": Role(v["role"])}) for k, v in s["accounts"].items()}
    reg._cash.balances = {k: CashBalance(**v) for k, v in s["cash"].items()}
    reg._cash.deposited_fen = s["deposited_fen"]
    reg._cash.withdrawn_fen = s["withdrawn_fen"]
    reg._holdings.holdings = {
        tuple(k.split("|", 1)): Holding(**{**v, "available": LotBag.from_json(v["available"])})
        for k, v in s["holdings"].items()
    }
    reg._lots = {k: Lot(**v) for k, v in s["lots"].items()}
    reg._holds = {
        int(k): Hold(**{**v, "lots": LotBag.from_json(v["lots"])}) for k, v in s["holds"].items()
    }
    reg._claims = {k: Claim(**v) for k, v in s["claims"].items()}
    reg._projects = {k: Project(**v) for k, v in s["projects"].items()}
    reg._applications = {
        k: Application(**{**v, "sources": tuple((src, kg) for src, kg in v["sources"])})
        for k, v in s["applications"].items()
    }
    reg._ledger.rows = {tuple(k.split("|", 1)): dict(v) for k, v in s["ledger"].items()}
    reg._ledger.floors = {tuple(k.split("|", 1)): v for k, v in s["floors"].items()}
    reg._issued_kg = dict(s["issued_kg"])
    reg._auctions = {
        k: Auction(**{**v, "lots": LotBag.from_json(v["lots"])})
        for k, v in s.get("auctions", {}).items()
    }
    reg._bids = {k: Bid(**v) for k, v in s.get("bids", {}).items()}
    reg._blocks = {
        k: BlockTrade(**{**v, "lots": LotBag.from_json(v["lots"])})
        for k, v in s.get("blocks", {}).items()
    }
    reg._expired = set(s.get("expired", ()))
    reg._retired_kg = dict(s.get("retired_kg", {}))
    return reg


# ---------------------------------------------------------------------- plain form
# The same state as `dump`, as plain data (dicts, lists, tuples, str, int) for a
# snapshot that is pickled rather than parsed: each record is the tuple of its
# dataclass fields in declaration order, a bag of lots its list of [ordinal, lot_id,
# kg]. Not canonical (the state hash is always that of `dump`), but loading it
# builds each object with one positional call instead of parsing and re-keying JSON.

PLAIN_FORMAT = 1


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _base(value: object) -> object:
    # statuses and kinds may hold their StrEnum member: the plain form holds only
    # built-in types (its loader refuses every class), and the member equals its value
    return value.value if isinstance(value, Enum) else value


def _tuples(objs: dict, cls: type) -> dict:
    names = _names(cls)
    return {k: tuple([_base(getattr(o, n)) for n in names]) for k, o in objs.items()}


def _tuples_with_lots(objs: dict, cls: type, bag: str) -> dict:
    # the bag is the last field of every class that has one
    names = _names(cls)
    if names[-1] != bag:
        raise SettlementDefect(f"{cls.__name__}: {bag} is not the last field")
    head = names[:-1]
    return {
        k: (*[_base(getattr(o, n)) for n in head], getattr(o, bag)._entries)
        for k, o in objs.items()
    }


def plain(reg: Registry) -> dict:
    return {
        "format": PLAIN_FORMAT,
        "fee_bps": reg.fee_bps,
        "last_seq": reg.last_seq,
        "listings": _tuples(reg._listings, _listing_class()),
        "accounts": {
            a: (acc.account_id, acc.name, str(acc.role), acc.city_code)
            for a, acc in reg._accounts.items()
        },
        "cash": _tuples(reg._cash.balances, CashBalance),
        "deposited_fen": reg._cash.deposited_fen,
        "withdrawn_fen": reg._cash.withdrawn_fen,
        "holdings": {
            k: (h.available._entries, h.locked_kg, h.used_kg, h.version)
            for k, h in reg._holdings.holdings.items()
        },
        "lots": _tuples(reg._lots, Lot),
        "holds": _tuples_with_lots(reg._holds, Hold, "lots"),
        "claims": _tuples(reg._claims, Claim),
        "projects": _tuples(reg._projects, Project),
        "applications": _tuples(reg._applications, Application),
        "ledger": reg._ledger.rows,
        "floors": reg._ledger.floors,
        "issued_kg": reg._issued_kg,
        "auctions": _tuples_with_lots(reg._auctions, Auction, "lots"),
        "bids": _tuples(reg._bids, Bid),
        "blocks": _tuples_with_lots(reg._blocks, BlockTrade, "lots"),
        "expired": reg._expired,
        "retired_kg": reg._retired_kg,
    }


def _listing_class() -> type:
    from settlement.registry import Listing

    return Listing


def _objects(rows: dict, cls: type) -> dict:
    return {k: cls(*row) for k, row in rows.items()}


def _objects_with_lots(rows: dict, cls: type) -> dict:
    return {k: cls(*row[:-1], LotBag(row[-1])) for k, row in rows.items()}


def from_plain(cls: type[Registry], s: dict) -> Registry:
    if s["format"] != PLAIN_FORMAT:
        raise SettlementDefect(f"plain snapshot format {s['format']}, expected {PLAIN_FORMAT}")
    if _names(Holding) != ("available", "locked_kg", "used_kg", "version"):
        raise SettlementDefect("Holding's fields changed: the plain snapshot form must follow")
    reg = cls(s["fee_bps"])
    reg.last_seq = s["last_seq"]
    reg._listings = _objects(s["listings"], _listing_class())
    reg._accounts = {
        k: Account(a, name, Role(role), city) for k, (a, name, role, city) in s["accounts"].items()
    }
    reg._cash.balances = _objects(s["cash"], CashBalance)
    reg._cash.deposited_fen = s["deposited_fen"]
    reg._cash.withdrawn_fen = s["withdrawn_fen"]
    reg._holdings.holdings = {
        k: Holding(LotBag(entries), locked, used, version)
        for k, (entries, locked, used, version) in s["holdings"].items()
    }
    reg._lots = _objects(s["lots"], Lot)
    reg._holds = _objects_with_lots(s["holds"], Hold)
    reg._claims = _objects(s["claims"], Claim)
    reg._projects = _objects(s["projects"], Project)
    reg._applications = _objects(s["applications"], Application)
    reg._ledger.rows = s["ledger"]
    reg._ledger.floors = s["floors"]
    reg._issued_kg = s["issued_kg"]
    reg._auctions = _objects_with_lots(s["auctions"], Auction)
    reg._bids = _objects(s["bids"], Bid)
    reg._blocks = _objects_with_lots(s["blocks"], BlockTrade)
    reg._expired = s["expired"]
    reg._retired_kg = s["retired_kg"]
    return reg
