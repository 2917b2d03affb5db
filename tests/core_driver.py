"""Drives the core directly with journal-shaped commands, as the sequencer does."""

from __future__ import annotations

import hashlib

from exchange.core.command_codec import from_payload
from exchange.core.commands import Command
from exchange.core.state import Core, Outcome
from exchange.infra import snapshots

SYMBOL = "NOX-2025"
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def through_plain_snapshot(core: Core) -> Core:
    """The core written as the plain snapshot form (pickled, compressed, hashed) and
    read back the way start-up reads it."""
    canonical, plain = core.snapshot_forms()
    state_hash = hashlib.sha256(canonical).hexdigest()
    assert state_hash == core.state_hash()
    blob = snapshots.encode_state(core.last_seq, state_hash, plain)
    record = snapshots.SnapshotRecord(core.last_seq, 0, state_hash, blob)
    return Core.restore_plain(snapshots.verify(record, None).state())


class CoreDriver:
    def __init__(self, fee_bps: int = 0, core: Core | None = None) -> None:
        self.core = core or Core(fee_bps=fee_bps)
        self.log: list[tuple[int, int, Command]] = []

    def apply(self, command: dict | Command, ts_us: int | None = None) -> Outcome:
        """Applies a command, or a journal payload decoded as the replay decodes it."""
        seq = self.core.last_seq + 1
        ts = T0_US + seq * 1_000_000 if ts_us is None else ts_us
        if not isinstance(command, Command):
            command = from_payload(command)
        self.log.append((seq, ts, command))
        return self.core.apply(seq, ts, command)

    def ok(self, command: dict) -> dict:
        out = self.apply(command)
        assert out.error is None, out.error
        return out.result

    # --- set-up helpers ---------------------------------------------------------------
    def list_nox(self, reference_fen: int = 320_000, band_bps: int = 1_000) -> None:
        self.ok(
            {
                "kind": "list_instrument",
                "symbol": SYMBOL,
                "pollutant": "NOx",
                "vintage": 2025,
                "tick_fen": 1,
                "lot_kg": 1,
                "reference_price_fen": reference_fen,
                "band_bps": band_bps,
            }
        )

    def account(self, username: str, role: str = "enterprise", city: str | None = "440100") -> str:
        return self.ok(
            {
                "kind": "open_account",
                "username": username,
                "password_hash": "x",
                "name": username.title(),
                "role": role,
                "city_code": city,
            }
        )["account_id"]

    def deposit(self, account_id: str, fen: int) -> None:
        self.ok({"kind": "deposit", "account_id": account_id, "amount_fen": fen})

    def issue(
        self, account_id: str, verifier_id: str, kg: int, kind: str = "deep_treatment"
    ) -> str:
        claim = self.ok(
            {
                "kind": "claim_reduction",
                "account_id": account_id,
                "symbol": SYMBOL,
                "quantity_kg": kg,
                "source_kind": kind,
                "description": "SCR retrofit",
                "evidence": "CEMS",
            }
        )["claim_id"]
        return self.ok(
            {
                "kind": "verify_reduction",
                "account_id": verifier_id,
                "claim_id": claim,
                "decision": "approve",
                "approved_kg": kg,
                "method": "online_monitoring",
                "note": "",
            }
        )["lot_id"]

    def order(
        self,
        account_id: str,
        side: str,
        price_fen: int | None,
        kg: int,
        tif: str = "GTC",
        client_order_id: str | None = None,
        order_type: str = "limit",
    ) -> Outcome:
        return self.apply(
            {
                "kind": "place_order",
                "account_id": account_id,
                "client_order_id": client_order_id or f"c{self.core.last_seq + 1}",
                "request_hash": f"{side}:{price_fen}:{kg}:{tif}:{order_type}",
                "symbol": SYMBOL,
                "side": side,
                "type": order_type,
                "price_fen": price_fen,
                "quantity_kg": kg,
                "time_in_force": tif,
            }
        )

    def replay(self) -> Core:
        fresh = Core(fee_bps=self.core.fee_bps)
        for seq, ts, command in self.log:
            fresh.apply(seq, ts, command)
        return fresh
