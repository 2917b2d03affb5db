"""What a snapshot costs the clients: batch latency of the sequencer with the snapshot
written inside the group commit (the old way) and in a forked child, in one run.

Each mode gets a fresh SQLite file, a book of `resting` resting buy orders, then
`orders` more single-order batches (one client waiting on each) while a snapshot
falls due every `snapshot_every` commands. The latency is that of
`Sequencer.process` (apply + journal + read models + commit + reply), as a client
of an idle queue would see it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from exchange.config import Settings
from exchange.core import commands
from exchange.infra import snapshots
from exchange.infra.bus import InProcessBus
from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.runtime import ensure_system_accounts, genesis_command, new_core
from exchange.infra.sequencer import Sequencer

SYMBOL = "NOX-2025"
ACCOUNTS = 50


class _Queue:
    async def reply_many(self, replies) -> None:
        for _handle, result in replies:
            if result["error"] is not None:
                raise RuntimeError(result["error"])

    async def reply(self, handle, result) -> None:
        await self.reply_many([(handle, result)])


def _order(account_id: str, n: int) -> commands.PlaceOrder:
    coid = f"b{n}"
    return commands.PlaceOrder(
        account_id=account_id,
        client_order_id=coid,
        request_hash=coid,
        symbol=SYMBOL,
        side="buy",
        type="limit",
        price_fen=300_000 - (n % 1000),
        quantity_kg=1,
        time_in_force="GTC",
    )


def _percentiles(values: list[float]) -> dict:
    s = sorted(values)
    pick = lambda f: s[min(len(s) - 1, int(f * len(s)))]  # noqa: E731
    return {"p50": pick(0.50), "p99": pick(0.99), "p99.9": pick(0.999), "max": s[-1]}


async def _run(background: bool, resting: int, orders: int, snapshot_every: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="emx-stall-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'emx.db'}"
        db = make_engine(url)
        upgrade(db)
        settings = Settings(database_url=url)
        core = new_core(settings)
        ensure_system_accounts(db, core)
        seqr = Sequencer(
            core,
            db,
            InProcessBus(),
            _Queue(),
            recover=lambda: None,
            snapshot_every=snapshot_every,
            snapshots_keep=2,
            background_snapshots=background,
        )
        n = 0

        async def batch(commands: list[dict]) -> list:
            nonlocal n
            items = [(n + i, c) for i, c in enumerate(commands)]
            n += len(commands)
            await seqr.process(items)

        await batch([genesis_command(settings)])
        await batch(
            [
                commands.ListInstrument(
                    symbol=SYMBOL,
                    pollutant="NOx",
                    vintage=2025,
                    tick_fen=1,
                    lot_kg=1,
                    reference_price_fen=320_000,
                    band_bps=1_000,
                )
            ]
        )
        accounts = []
        for i in range(ACCOUNTS):
            await batch(
                [
                    commands.OpenAccount(
                        username=f"stall{i}",
                        password_hash="x",
                        name=f"Stall {i}",
                        role="enterprise",
                        city_code="440100",
                    )
                ]
            )
            accounts.append(seqr.core.registry.accounts()[-1].account_id)
        await batch([commands.Deposit(account_id=a, amount_fen=10**13) for a in accounts])
        for start in range(0, resting, 512):
            await batch(
                [_order(accounts[k % ACCOUNTS], k) for k in range(start, min(resting, start + 512))]
            )
        seqr.snapshotter.settle()
        timed_from_seq = seqr.core.last_seq
        latencies = []
        started = time.perf_counter()
        for k in range(resting, resting + orders):
            t0 = time.perf_counter()
            await batch([_order(accounts[k % ACCOUNTS], k)])
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
        seqr.close()
        latest = snapshots.latest(db)
        db.dispose()
        return {
            # a snapshot taken while the timed orders went through
            "snapshot_in_timed_phase": latest is not None and latest.seq > timed_from_seq,
            "snapshot_failures": len(seqr.snapshotter.failed),
            "orders_per_s": orders / elapsed,
            **{k: round(v, 2) for k, v in _percentiles(latencies).items()},
        }


def main(resting: int = 50_000, orders: int = 3_000, snapshot_every: int = 1_000) -> dict:
    results = {}
    for name, background in (("inline", False), ("forked", True)):
        results[name] = asyncio.run(_run(background, resting, orders, snapshot_every))
        r = results[name]
        print(
            f"{name:7} {r['orders_per_s']:8.0f} orders/s  p50 {r['p50']:7.2f} ms  "
            f"p99 {r['p99']:7.2f} ms  p99.9 {r['p99.9']:7.2f} ms  max {r['max']:7.2f} ms"
        )
    return results


if __name__ == "__main__":
    main()
