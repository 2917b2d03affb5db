"""Market surveillance: the patterns the province wants raised live.

Deterministic like the rest of the core: it looks only at events and the
command's own timestamp. Each alert is raised once per account, symbol and
kind within a session, so a persistent pattern does not flood the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from matching_engine.events import (
    OrderAccepted,
    OrderCancelled,
    SelfTradePrevented,
    SessionClosed,
    Trade,
)
from matching_engine.types import CancelReason


class AlertKind(StrEnum):
    SELF_TRADE_BLOCKED = "self_trade_blocked"
    PRICE_BAND_REJECTION = "price_band_rejection"
    LARGE_PRICE_MOVE = "large_price_move"
    CONCENTRATION = "concentration"
    ORDER_TO_CANCEL_RATIO = "order_to_cancel_ratio"
    BLOCK_TRADE_OFF_MARKET = "block_trade_off_market"


# Alerts and the once-per-session keys hold plain strings, as a restored snapshot does.
SELF_TRADE_BLOCKED = AlertKind.SELF_TRADE_BLOCKED.value
PRICE_BAND_REJECTION = AlertKind.PRICE_BAND_REJECTION.value
LARGE_PRICE_MOVE = AlertKind.LARGE_PRICE_MOVE.value
CONCENTRATION = AlertKind.CONCENTRATION.value
ORDER_TO_CANCEL_RATIO = AlertKind.ORDER_TO_CANCEL_RATIO.value
BLOCK_TRADE_OFF_MARKET = AlertKind.BLOCK_TRADE_OFF_MARKET.value

BLOCK_DEVIATION_BPS = 1_000
"""A block trade more than 10 % from the market price is raised. A constant, not a
threshold in the genesis entry, so the journals written before block trades existed
keep their parameters (and state hash)."""


UNRECORDED_CONCENTRATION_BPS = 4_000
"""The concentration threshold of a core whose genesis does not record one: a genesis
whose `thresholds` leave it out, and a core built without thresholds (tests, the golden
journals, benchmarks). Their state hashes contain it, so it never changes. It is not the
value a new journal gets: the service records its configured threshold in the genesis
(exchange.config.NEW_JOURNAL_CONCENTRATION_BPS unless EMX_CONCENTRATION_ALERT_BPS says
otherwise), and a journal keeps what its genesis recorded."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A core's alert thresholds. The service takes them from its settings and fixes
    them in the journal's genesis entry; these defaults are those of a core whose genesis
    records none (a core built without any, or a genesis that leaves one out), and they
    are part of such a core's state hash."""

    price_move_bps: int = 500
    concentration_bps: int = UNRECORDED_CONCENTRATION_BPS
    # below this session volume a single trade would look like "concentration"
    concentration_min_volume_kg: int = 50_000
    cancel_ratio_pct: int = 90
    cancel_ratio_min_orders: int = 20


@dataclass(slots=True)
class _SymbolSession:
    last_price_fen: int | None = None
    volume_kg: int = 0
    volume_by_account: dict[str, int] = field(default_factory=dict)
    orders_by_account: dict[str, int] = field(default_factory=dict)
    cancels_by_account: dict[str, int] = field(default_factory=dict)
    raised: set[tuple[str, str]] = field(default_factory=set)


class Surveillance:
    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._sessions: dict[str, _SymbolSession] = {}

    def _session(self, symbol: str) -> _SymbolSession:
        s = self._sessions.get(symbol)
        if s is None:
            s = self._sessions[symbol] = _SymbolSession()
        return s

    def band_rejection(
        self, seq: int, ts_us: int, symbol: str, account_id: str, price_fen: int, band: tuple
    ) -> dict:
        return _alert(
            seq,
            ts_us,
            PRICE_BAND_REJECTION,
            symbol,
            account_id,
            {"price_fen": price_fen, "band_low_fen": band[0], "band_high_fen": band[1]},
        )

    def block_trade_off_market(
        self,
        seq: int,
        ts_us: int,
        symbol: str,
        block_id: str,
        seller_account_id: str,
        buyer_account_id: str,
        price_fen: int,
        market_price_fen: int,
    ) -> dict | None:
        """An alert when an accepted block trade is far from the market price."""
        if abs(price_fen - market_price_fen) * 10_000 <= BLOCK_DEVIATION_BPS * market_price_fen:
            return None
        return _alert(
            seq,
            ts_us,
            BLOCK_TRADE_OFF_MARKET,
            symbol,
            buyer_account_id,
            {
                "block_trade_id": block_id,
                "seller_account_id": seller_account_id,
                "price_fen": price_fen,
                "market_price_fen": market_price_fen,
                "threshold_bps": BLOCK_DEVIATION_BPS,
            },
        )

    def observe(self, events: list) -> list[dict]:
        alerts: list[dict] = []
        t = self.thresholds
        for ev in events:
            cls = type(ev)
            if cls is Trade:
                s = self._session(ev.symbol)
                prev = s.last_price_fen
                if prev is not None and abs(ev.price_fen - prev) * 10_000 > t.price_move_bps * prev:
                    alerts.append(
                        _alert(
                            ev.seq,
                            ev.ts_us,
                            LARGE_PRICE_MOVE,
                            ev.symbol,
                            ev.taker_owner,
                            {
                                "previous_price_fen": prev,
                                "price_fen": ev.price_fen,
                                "move_bps": (ev.price_fen - prev) * 10_000 // prev,
                                "trade_id": ev.trade_id,
                            },
                        )
                    )
                s.last_price_fen = ev.price_fen
                s.volume_kg += ev.quantity_kg
                for owner in (ev.maker_owner, ev.taker_owner):
                    s.volume_by_account[owner] = s.volume_by_account.get(owner, 0) + ev.quantity_kg
                    self._check_concentration(s, ev, owner, alerts)
            elif cls is OrderAccepted:
                s = self._session(ev.symbol)
                s.orders_by_account[ev.owner] = s.orders_by_account.get(ev.owner, 0) + 1
            elif cls is OrderCancelled:
                if str(ev.reason) == CancelReason.USER:
                    s = self._session(ev.symbol)
                    s.cancels_by_account[ev.owner] = s.cancels_by_account.get(ev.owner, 0) + 1
                    self._check_cancel_ratio(s, ev, alerts)
            elif cls is SelfTradePrevented:
                alerts.append(
                    _alert(
                        ev.seq,
                        ev.ts_us,
                        SELF_TRADE_BLOCKED,
                        ev.symbol,
                        ev.owner,
                        {
                            "taker_order_id": str(ev.taker_order_id),
                            "maker_order_id": str(ev.maker_order_id),
                            "cancelled": ev.cancelled,
                        },
                    )
                )
            elif cls is SessionClosed:
                last = self._session(ev.symbol).last_price_fen
                self._sessions[ev.symbol] = _SymbolSession(last_price_fen=last)
        return alerts

    def _check_concentration(self, s: _SymbolSession, ev: Trade, owner: str, alerts: list) -> None:
        t = self.thresholds
        if s.volume_kg < t.concentration_min_volume_kg or (CONCENTRATION, owner) in s.raised:
            return
        mine = s.volume_by_account[owner]
        if mine * 10_000 > t.concentration_bps * s.volume_kg:
            s.raised.add((CONCENTRATION, owner))
            alerts.append(
                _alert(
                    ev.seq,
                    ev.ts_us,
                    CONCENTRATION,
                    ev.symbol,
                    owner,
                    {"account_volume_kg": mine, "session_volume_kg": s.volume_kg},
                )
            )

    def _check_cancel_ratio(self, s: _SymbolSession, ev: OrderCancelled, alerts: list) -> None:
        t = self.thresholds
        owner = ev.owner
        placed = s.orders_by_account.get(owner, 0)
        cancels = s.cancels_by_account[owner]
        if placed < t.cancel_ratio_min_orders or (ORDER_TO_CANCEL_RATIO, owner) in s.raised:
            return
        if cancels * 100 >= t.cancel_ratio_pct * placed:
            s.raised.add((ORDER_TO_CANCEL_RATIO, owner))
            alerts.append(
                _alert(
                    ev.seq,
                    ev.ts_us,
                    ORDER_TO_CANCEL_RATIO,
                    ev.symbol,
                    owner,
                    {"orders": placed, "cancels": cancels},
                )
            )

    def snapshot(self) -> dict:
        return {
            sym: {
                "last_price_fen": s.last_price_fen,
                "volume_kg": s.volume_kg,
                "volume_by_account": dict(sorted(s.volume_by_account.items())),
                "orders_by_account": dict(sorted(s.orders_by_account.items())),
                "cancels_by_account": dict(sorted(s.cancels_by_account.items())),
                "raised": sorted(list(r) for r in s.raised),
            }
            for sym, s in sorted(self._sessions.items())
        }

    def restore(self, data: dict) -> None:
        self._sessions = {
            sym: _SymbolSession(
                last_price_fen=d["last_price_fen"],
                volume_kg=d["volume_kg"],
                volume_by_account=dict(d["volume_by_account"]),
                orders_by_account=dict(d["orders_by_account"]),
                cancels_by_account=dict(d["cancels_by_account"]),
                raised={tuple(r) for r in d["raised"]},
            )
            for sym, d in data.items()
        }

    def plain_state(self) -> dict:
        return {
            sym: (
                s.last_price_fen,
                s.volume_kg,
                s.volume_by_account,
                s.orders_by_account,
                s.cancels_by_account,
                s.raised,
            )
            for sym, s in self._sessions.items()
        }

    def restore_plain(self, data: dict) -> None:
        self._sessions = {sym: _SymbolSession(*row) for sym, row in data.items()}


def _alert(seq: int, ts_us: int, kind: str, symbol: str, account_id: str, detail: dict) -> dict:
    return {
        "seq": seq,
        "ts_us": ts_us,
        "kind": kind,
        "symbol": symbol,
        "account_id": account_id,
        "detail": detail,
    }
