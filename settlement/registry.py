"""The registry and clearing house: one deterministic state machine.

The single-writer core calls `handle` for registry commands, `check_order` /
`check_amend` before it sends an order to the matching engine, and
`apply_engine_events` with what the engine emitted. Every method either raises
`SettlementError` having changed nothing, or applies the whole change and returns
the events describing it. No clock, no I/O, no randomness: a replay of the same
inputs gives the same `state_hash`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from settlement import (
    auctions,
    block_trades,
    commands,
    invariants,
    projects,
    reallocations,
    reductions,
    settle,
    snapshot,
)
from settlement.accounts import (
    CASH_ROLES,
    FEES_ACCOUNT,
    OPENABLE_ROLES,
    RESERVE_ACCOUNT,
    RESERVE_SOURCE,
    TRADING_ROLES,
    Account,
    Role,
)
from settlement.cash import CashBook
from settlement.cities import CITIES, CITIES_BY_CODE, pool_account_id
from settlement.errors import ErrorCode, SettlementError
from settlement.events import (
    AccountOpened,
    CityFloorSet,
    InstrumentExpired,
    InstrumentListed,
    ReserveReleased,
)
from settlement.holdings import HoldingBook
from settlement.holds import Hold
from settlement.ledger import TRANSFERRED_IN, TRANSFERRED_OUT, CityLedger, LedgerRow
from settlement.limits import BALANCE_LIMIT
from settlement.lots import Lot, Portion
from settlement.pricing import BPS_DENOMINATOR, buy_hold_fen
from settlement.validation import is_int as _is_int
from settlement.validation import require_new_id, require_positive, require_role


@dataclass(frozen=True, slots=True)
class Listing:
    """What the registry needs of an instrument: its pollutant, vintage and lot size."""

    symbol: str
    pollutant: str
    vintage: int
    lot_kg: int


class Registry:
    def __init__(self, fee_bps: int = 0) -> None:
        if not (_is_int(fee_bps) and 0 <= fee_bps <= BPS_DENOMINATOR):
            raise SettlementError(
                ErrorCode.INVALID_AMOUNT, f"fee_bps must be 0..10000, got {fee_bps!r}"
            )
        self.fee_bps = fee_bps
        self._listings: dict[str, Listing] = {}
        self._accounts: dict[str, Account] = {}
        self._cash = CashBook()
        self._holdings = HoldingBook()
        self._lots: dict[str, Lot] = {}
        self._holds: dict[int, Hold] = {}
        self._claims: dict[str, reductions.Claim] = {}
        self._projects: dict[str, projects.Project] = {}
        self._applications: dict[str, reallocations.Application] = {}
        self._ledger = CityLedger()
        self._issued_kg: dict[str, int] = {}
        self._auctions: dict[str, auctions.Auction] = {}
        self._bids: dict[str, auctions.Bid] = {}
        self._blocks: dict[str, block_trades.BlockTrade] = {}
        self._expired: set[str] = set()
        self._retired_kg: dict[str, int] = {}
        """kg of each lot the reserve sold at auction and that was re-issued as new lots."""
        self.last_seq = 0
        self._shortfalls: list[tuple[int, int]] = []
        """Buy orders left short by the last engine events; transient, never snapshotted."""
        self._add_account(Account(FEES_ACCOUNT, "Exchange fees", Role.FEES, ""))
        self._add_account(Account(RESERVE_ACCOUNT, "Provincial reserve", Role.RESERVE, ""))
        for city in CITIES:
            self._add_account(
                Account(
                    pool_account_id(city.code),
                    f"{city.name_en} city pool",
                    Role.CITY_POOL,
                    city.code,
                )
            )

    # ------------------------------------------------------------------ commands

    def handle(self, cmd: commands.RegistryCommand) -> list:
        handler = _HANDLERS.get(type(cmd))
        if handler is None:
            raise TypeError(f"not a registry command: {cmd!r}")
        out = handler(self, cmd)
        self.last_seq = max(self.last_seq, cmd.seq)
        return out

    def check_order(
        self,
        account_id: str,
        symbol: str,
        side: str,
        price_fen: int,
        quantity_kg: int,
        rounding_reserve_fen: int = 0,
    ) -> None:
        """Refuses an order the account could not lock for. For a market buy pass the
        price it will be accepted at: the top of the band. A buy that can trade at once
        must also cover `rounding_reserve_fen` (`pricing.rounding_reserve_fen` of the
        resting orders it could meet), locked only while its own command settles.

        Malformed prices and quantities pass here; the engine refuses them."""
        account = self.require_account(account_id)
        if account.role not in TRADING_ROLES:
            raise SettlementError(
                ErrorCode.NOT_ALLOWED, f"{account_id} ({account.role}) may not trade"
            )
        self.require_listing(symbol)
        if side == "buy":
            reserve = _reserve(rounding_reserve_fen)
            need = _buy_need(price_fen, quantity_kg, self.fee_bps)
            if need:
                need += reserve
            have = self._cash.balance(account_id).available_fen
            if need > have:
                raise SettlementError(
                    ErrorCode.INSUFFICIENT_CASH,
                    f"{account_id} needs {need} fen, has {have} available",
                )
        elif side == "sell":
            have = self._holdings.peek(account_id, symbol).available.total()
            if _is_int(quantity_kg) and quantity_kg > have:
                raise SettlementError(
                    ErrorCode.INSUFFICIENT_ALLOWANCES,
                    f"{account_id} sells {quantity_kg} kg of {symbol}, has {have} available",
                )
        else:
            raise SettlementError(ErrorCode.INVALID_SIDE, f"side must be buy or sell, got {side!r}")

    def check_amend(
        self,
        order_id: int,
        new_price_fen: int | None,
        new_quantity_kg: int | None,
        rounding_reserve_fen: int = 0,
    ) -> None:
        """Refuses an amendment whose order would need more lock than is available;
        a re-priced buy that can trade at once must cover its rounding reserve too."""
        hold = self._holds.get(order_id)
        if hold is None:
            raise SettlementError(ErrorCode.ORDER_NOT_OPEN, f"order {order_id} holds nothing")
        price = hold.price_fen if new_price_fen is None else new_price_fen
        quantity = hold.remaining_kg if new_quantity_kg is None else new_quantity_kg
        if hold.is_buy:
            reserve = _reserve(rounding_reserve_fen)
            need = _buy_need(price, quantity, self.fee_bps)
            if need:
                need += reserve
            extra = need - hold.held_fen
            have = self._cash.balance(hold.account_id).available_fen
            if extra > have:
                raise SettlementError(
                    ErrorCode.INSUFFICIENT_CASH,
                    f"{hold.account_id} needs {extra} more fen, has {have} available",
                )
        else:
            extra = quantity - hold.remaining_kg if _is_int(quantity) else 0
            have = self._holdings.peek(hold.account_id, hold.symbol).available.total()
            if extra > have:
                raise SettlementError(
                    ErrorCode.INSUFFICIENT_ALLOWANCES,
                    f"{hold.account_id} needs {extra} more kg of {hold.symbol}, has {have}",
                )

    def apply_engine_events(
        self, events: Iterable, rounding_reserve_fen: Mapping[int, int] | None = None
    ) -> list:
        """Settles what the engine emitted for one command. `rounding_reserve_fen`
        (order id -> fen) is locked on top of that order's hold when it is placed or
        re-priced, and whatever of it the fills did not use is released at the end,
        when every buy hold the events touched is trued to exactly its requirement.

        A hold that cannot be trued (a maker left a fen or two short by rounding, its
        owner with no cash available) is not refused: it is reported through
        `take_shortfalls`, and the caller must shrink or cancel that order before
        the command ends."""
        return settle.apply_engine_events(self, events, rounding_reserve_fen or {})

    def take_shortfalls(self) -> list[tuple[int, int]]:
        """(order_id, remaining_kg) for each buy order whose hold the last
        `apply_engine_events` could not bring up to its requirement: the largest
        remaining quantity, a multiple of the lot and possibly 0, that the hold now
        covers. Cleared on read."""
        out, self._shortfalls = self._shortfalls, []
        return out

    # ------------------------------------------------------------------ queries

    def cash(self, account_id: str) -> tuple[int, int]:
        self.require_account(account_id)
        b = self._cash.balances.get(account_id)
        return (b.available_fen, b.locked_fen) if b else (0, 0)

    def allowances(self, account_id: str, symbol: str) -> tuple[int, int, int]:
        self.require_account(account_id)
        self.require_listing(symbol)
        return self._holdings.peek(account_id, symbol).totals()

    def available_lots(self, account_id: str, symbol: str) -> list[tuple[str, int]]:
        """The account's available allowances as (lot_id, kg), oldest lot first."""
        self.require_account(account_id)
        portions = self._holdings.peek(account_id, symbol).available.portions()
        return [(lot_id, kg) for _, lot_id, kg in portions]

    def account(self, account_id: str) -> Account:
        return self.require_account(account_id)

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def symbols(self) -> list[str]:
        return sorted(self._listings)

    def lot(self, lot_id: str) -> Lot:
        return self._lots[lot_id]

    def claim(self, claim_id: str) -> reductions.Claim:
        if claim_id not in self._claims:
            raise SettlementError(ErrorCode.UNKNOWN_CLAIM, f"no claim {claim_id!r}")
        return self._claims[claim_id]

    def project(self, project_id: str) -> projects.Project:
        if project_id not in self._projects:
            raise SettlementError(ErrorCode.UNKNOWN_PROJECT, f"no project {project_id!r}")
        return self._projects[project_id]

    def application(self, application_id: str) -> reallocations.Application:
        if application_id not in self._applications:
            raise SettlementError(
                ErrorCode.UNKNOWN_APPLICATION, f"no application {application_id!r}"
            )
        return self._applications[application_id]

    def auction(self, auction_id: str) -> auctions.Auction:
        found = self._auctions.get(auction_id) if isinstance(auction_id, str) else None
        if found is None:
            raise SettlementError(ErrorCode.UNKNOWN_AUCTION, f"no auction {auction_id!r}")
        return found

    def bid(self, bid_id: str) -> auctions.Bid:
        found = self._bids.get(bid_id) if isinstance(bid_id, str) else None
        if found is None:
            raise SettlementError(ErrorCode.UNKNOWN_BID, f"no bid {bid_id!r}")
        return found

    def block_trade(self, block_id: str) -> block_trades.BlockTrade:
        found = self._blocks.get(block_id) if isinstance(block_id, str) else None
        if found is None:
            raise SettlementError(ErrorCode.UNKNOWN_BLOCK_TRADE, f"no block trade {block_id!r}")
        return found

    def is_expired(self, symbol: str) -> bool:
        return symbol in self._expired

    def hold(self, order_id: int) -> Hold | None:
        return self._holds.get(order_id)

    def floor(self, city_code: str, symbol: str) -> int:
        return self._ledger.floor(city_code, symbol)

    def issued_kg(self, symbol: str) -> int:
        return self._issued_kg.get(symbol, 0)

    def ledger_rows(self, symbol: str) -> list[LedgerRow]:
        """One row per city in code order; `row._asdict()` gives the mapping."""
        self.require_listing(symbol)
        return self._ledger.rows_for(symbol)

    def ledger_row(self, city_code: str, symbol: str) -> LedgerRow:
        self.require_city(city_code)
        self.require_listing(symbol)
        return self._ledger.row(city_code, symbol)

    def project_sources(self, project_id: str) -> list[tuple[str, str, str, str, str, int]]:
        """(lot_id, reduction_id, source_kind, origin_city_code, origin_account_id, kg)
        per lot, in the order the lots were first bound."""
        return [tuple(s) for s in projects.sources_of(self, self.project(project_id))]

    def check_invariants(self) -> None:
        invariants.check(self)

    def snapshot(self) -> bytes:
        return snapshot.dump(self)

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()

    @classmethod
    def restore(cls, data: bytes) -> Registry:
        return snapshot.load(cls, data)

    def plain_state(self) -> dict:
        """The state as plain data, for a snapshot loaded faster than `snapshot`'s JSON."""
        return snapshot.plain(self)

    @classmethod
    def restore_plain(cls, data: dict) -> Registry:
        return snapshot.from_plain(cls, data)

    # ------------------------------------------------------------------ lookups that refuse

    def require_account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise SettlementError(ErrorCode.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
        return account

    def require_listing(self, symbol: str) -> Listing:
        listing = self._listings.get(symbol) if isinstance(symbol, str) else None
        if listing is None:
            raise SettlementError(ErrorCode.UNKNOWN_SYMBOL, f"no instrument {symbol!r}")
        return listing

    def require_not_expired(self, symbol: str) -> None:
        if symbol in self._expired:
            raise SettlementError(ErrorCode.INSTRUMENT_EXPIRED, f"{symbol} has expired")

    def require_city(self, city_code: str) -> None:
        if not isinstance(city_code, str) or city_code not in CITIES_BY_CODE:
            raise SettlementError(ErrorCode.UNKNOWN_CITY, f"no city {city_code!r}")

    # ------------------------------------------------------------------ primitives (mutate)

    def _add_account(self, account: Account) -> None:
        self._accounts[account.account_id] = account
        if account.role in CASH_ROLES:
            self._cash.open(account.account_id)

    def _list(self, listing: Listing) -> None:
        self._listings[listing.symbol] = listing

    def _transfer(
        self,
        seq: int,
        ts_us: int,
        symbol: str,
        portions: list[Portion],
        from_id: str,
        to_id: str,
        kind_out: str,
        kind_in: str,
        reference: str,
        from_locked: bool = False,
    ) -> list:
        """Moves lots between accounts, and records the move in the ledger when it
        crosses a city line (the reserve counts as no city)."""
        out: list = []
        moved = 0
        for p in portions:
            kg = p[2]
            if from_locked:
                out.append(
                    self._holdings.post(
                        seq, ts_us, from_id, symbol, p, kind_out, 0, -kg, 0, reference
                    )
                )
            else:
                out.append(
                    self._holdings.post(
                        seq, ts_us, from_id, symbol, p, kind_out, -kg, 0, 0, reference
                    )
                )
            out.append(
                self._holdings.post(seq, ts_us, to_id, symbol, p, kind_in, kg, 0, 0, reference)
            )
            moved += kg
        from_city = self._accounts[from_id].ledger_city
        to_city = self._accounts[to_id].ledger_city
        out.extend(self._ledger_transfer(seq, ts_us, symbol, from_city, to_city, moved, reference))
        return out

    def _ledger_transfer(
        self,
        seq: int,
        ts_us: int,
        symbol: str,
        from_city: str | None,
        to_city: str | None,
        kg: int,
        reference: str,
    ) -> list:
        if from_city == to_city or kg == 0:
            return []
        out = []
        if from_city is not None:
            out.append(
                self._ledger.record(
                    seq,
                    ts_us,
                    from_city,
                    symbol,
                    TRANSFERRED_OUT,
                    kg,
                    reference,
                    to_city or RESERVE_SOURCE,
                )
            )
        if to_city is not None:
            out.append(
                self._ledger.record(
                    seq,
                    ts_us,
                    to_city,
                    symbol,
                    TRANSFERRED_IN,
                    kg,
                    reference,
                    from_city or RESERVE_SOURCE,
                )
            )
        return out


# ---------------------------------------------------------------------- validation helpers


def _buy_need(price_fen: object, quantity_kg: object, fee_bps: int) -> int:
    if not (_is_int(price_fen) and _is_int(quantity_kg)) or price_fen <= 0 or quantity_kg <= 0:
        return 0
    return buy_hold_fen(price_fen, quantity_kg, fee_bps)


def _reserve(rounding_reserve_fen: object) -> int:
    if not _is_int(rounding_reserve_fen) or rounding_reserve_fen < 0:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT,
            f"rounding reserve must be >= 0 fen, got {rounding_reserve_fen!r}",
        )
    return rounding_reserve_fen


# ---------------------------------------------------------------------- simple handlers


def _list_instrument(reg: Registry, cmd: commands.ListInstrument) -> list:
    if not isinstance(cmd.symbol, str) or not cmd.symbol.strip():
        raise SettlementError(ErrorCode.INVALID_ID, "symbol must be a non-empty string")
    if cmd.symbol in reg._listings:
        raise SettlementError(ErrorCode.INSTRUMENT_EXISTS, f"{cmd.symbol} is listed")
    if not isinstance(cmd.pollutant, str) or not cmd.pollutant.strip():
        raise SettlementError(ErrorCode.INVALID_ID, "pollutant must be a non-empty string")
    require_positive(cmd.vintage, "vintage")
    require_positive(cmd.lot_kg, "lot_kg")
    reg._list(Listing(cmd.symbol, cmd.pollutant, cmd.vintage, cmd.lot_kg))
    return [
        InstrumentListed(cmd.seq, cmd.ts_us, cmd.symbol, cmd.pollutant, cmd.vintage, cmd.lot_kg)
    ]


def _open_account(reg: Registry, cmd: commands.OpenAccount) -> list:
    require_new_id(cmd.account_id, reg._accounts, "account")
    if cmd.role not in OPENABLE_ROLES:
        raise SettlementError(ErrorCode.INVALID_ROLE, f"role {cmd.role!r} cannot be opened")
    role = Role(cmd.role)
    city = cmd.city_code or ""
    if role in (Role.ENTERPRISE, Role.CITY_BUREAU) or city:
        reg.require_city(city)
    reg._add_account(Account(cmd.account_id, cmd.name, role, city))
    return [AccountOpened(cmd.seq, cmd.ts_us, cmd.account_id, cmd.name, str(role), city)]


def _deposit(reg: Registry, cmd: commands.Deposit) -> list:
    account = reg.require_account(cmd.account_id)
    require_role(account, CASH_ROLES, "hold cash")
    amount = require_positive(cmd.amount_fen, "amount_fen")
    held = reg._cash.deposited_fen - reg._cash.withdrawn_fen
    if held + amount > BALANCE_LIMIT:
        raise SettlementError(
            ErrorCode.BALANCE_LIMIT,
            f"the exchange holds {held} fen; {amount} fen more would pass the limit of "
            f"{BALANCE_LIMIT} fen any balance can reach",
        )
    return [
        reg._cash.post(cmd.seq, cmd.ts_us, cmd.account_id, "deposit", amount, amount, 0, "deposit")
    ]


def _withdraw(reg: Registry, cmd: commands.Withdraw) -> list:
    account = reg.require_account(cmd.account_id)
    require_role(account, CASH_ROLES, "hold cash")
    amount = require_positive(cmd.amount_fen, "amount_fen")
    have = reg._cash.balance(cmd.account_id).available_fen
    if amount > have:
        # Locked cash backs open buy orders; only what is available can leave.
        raise SettlementError(
            ErrorCode.INSUFFICIENT_CASH,
            f"{cmd.account_id} withdraws {amount} fen, has {have} available",
        )
    return [
        reg._cash.post(
            cmd.seq, cmd.ts_us, cmd.account_id, "withdrawal", amount, -amount, 0, "withdrawal"
        )
    ]


def _set_city_floor(reg: Registry, cmd: commands.SetCityFloor) -> list:
    reg.require_city(cmd.city_code)
    reg.require_listing(cmd.symbol)
    if not _is_int(cmd.quantity_kg) or cmd.quantity_kg < 0:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT, f"floor must be >= 0, got {cmd.quantity_kg!r}"
        )
    key = (cmd.city_code, cmd.symbol)
    if cmd.quantity_kg == 0:
        reg._ledger.floors.pop(key, None)
    else:
        reg._ledger.floors[key] = cmd.quantity_kg
    return [CityFloorSet(cmd.seq, cmd.ts_us, cmd.city_code, cmd.symbol, cmd.quantity_kg)]


def _release_reserve(reg: Registry, cmd: commands.ReleaseReserve) -> list:
    reg.require_city(cmd.city_code)
    reg.require_listing(cmd.symbol)
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    bag = reg._holdings.peek(RESERVE_ACCOUNT, cmd.symbol).available
    if kg > bag.total():
        raise SettlementError(
            ErrorCode.INSUFFICIENT_ALLOWANCES,
            f"reserve holds {bag.total()} kg of {cmd.symbol} available",
        )
    out: list = [ReserveReleased(cmd.seq, cmd.ts_us, cmd.city_code, cmd.symbol, kg)]
    out += reg._transfer(
        cmd.seq,
        cmd.ts_us,
        cmd.symbol,
        bag.select_oldest(kg),
        RESERVE_ACCOUNT,
        pool_account_id(cmd.city_code),
        "transfer_out",
        "transfer_in",
        f"reserve_release:{cmd.seq}",
    )
    return out


def _allocate(reg: Registry, cmd: commands.AllocateToProject) -> list:
    project = reg.project(cmd.project_id)
    reg.require_not_expired(project.symbol)
    return projects.allocate(reg, cmd)


def _expire_instrument(reg: Registry, cmd: commands.ExpireInstrument) -> list:
    reg.require_listing(cmd.symbol)
    reg.require_not_expired(cmd.symbol)
    out = auctions.cancel_open(reg, cmd.seq, cmd.ts_us, cmd.symbol)
    out += block_trades.cancel_pending(reg, cmd.seq, cmd.ts_us, cmd.symbol)
    reg._expired.add(cmd.symbol)
    out.append(InstrumentExpired(cmd.seq, cmd.ts_us, cmd.symbol))
    return out


_HANDLERS = {
    commands.ListInstrument: _list_instrument,
    commands.OpenAccount: _open_account,
    commands.Deposit: _deposit,
    commands.Withdraw: _withdraw,
    commands.ClaimReduction: reductions.claim,
    commands.VerifyReduction: reductions.verify,
    commands.RegisterProject: projects.register,
    commands.AllocateToProject: _allocate,
    commands.SetCityFloor: _set_city_floor,
    commands.ApplyReallocation: reallocations.apply,
    commands.DecideReallocation: reallocations.decide,
    commands.ReleaseReserve: _release_reserve,
    commands.OpenAuction: auctions.open_auction,
    commands.PlaceBid: auctions.place_bid,
    commands.WithdrawBid: auctions.withdraw_bid,
    commands.CloseAuction: auctions.close_auction,
    commands.ProposeBlockTrade: block_trades.propose,
    commands.DecideBlockTrade: block_trades.decide,
    commands.ExpireInstrument: _expire_instrument,
}

__all__ = ["Listing", "Registry"]
