"""Starting the core: migrate, recover (snapshot + journal), make sure the
system accounts have rows, and create the first logins."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy import Engine, insert, select

from exchange import commands, snapshots
from exchange.command_codec import from_payload
from exchange.commands import MalformedCommand
from exchange.config import Settings
from exchange.core.state import Core
from exchange.core.surveillance import Thresholds
from exchange.db import models
from exchange.journal import Journal

log = logging.getLogger(__name__)
LOGIN_ROLES = frozenset({"enterprise", "city_bureau", "province", "operator"})


class StateMismatch(RuntimeError):
    pass


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        price_move_bps=settings.price_move_alert_bps,
        concentration_bps=settings.concentration_alert_bps,
        cancel_ratio_min_orders=settings.cancel_ratio_min_orders,
    )


def genesis_command(settings: Settings) -> commands.Genesis:
    """The first journal entry: the parameters the state depends on."""
    return commands.Genesis(
        fee_bps=settings.fee_bps,
        stp=str(settings.stp_mode),
        thresholds=asdict(thresholds(settings)),
    )


class ParametersChanged(RuntimeError):
    pass


def check_parameters(core: Core, settings: Settings) -> None:
    """A journal keeps the fee, self-trade mode and alert thresholds it started with;
    starting it with others would make replay disagree with what was acknowledged."""
    genesis = genesis_command(settings)
    want = {"fee_bps": genesis.fee_bps, "stp": genesis.stp, "thresholds": genesis.thresholds}
    have = core.parameters()
    if have != want:
        changed = ", ".join(sorted(k for k in want if want[k] != have[k]))
        raise ParametersChanged(
            f"this journal was started with other {changed} ({have}); start with the same "
            "settings (EMX_FEE_BPS, EMX_STP_MODE, alert thresholds) or a new database"
        )


def new_core(settings: Settings) -> Core:
    return Core(fee_bps=settings.fee_bps, stp=settings.stp_mode, thresholds=thresholds(settings))


def replay(
    db: Engine,
    settings: Settings,
    *,
    use_snapshot: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Core:
    """The core as the durable journal leaves it: the newest snapshot (its hash
    checked) plus every entry after it, applied in order."""
    core = None
    if use_snapshot:
        snap = snapshots.latest(db)
        if snap is not None:
            if hashlib.sha256(snap.data).hexdigest() != snap.state_hash:
                raise StateMismatch(f"snapshot at seq {snap.seq} does not match its hash")
            core = Core.restore(snap.data, stp=settings.stp_mode, thresholds=thresholds(settings))
    if core is None:
        core = new_core(settings)
    journal = Journal(db)
    for n, entry in enumerate(journal.read(after_seq=core.last_seq), start=1):
        try:
            command = from_payload(entry.payload)
        except MalformedCommand as bad:
            raise StateMismatch(f"journal entry {entry.seq} holds no command: {bad}") from None
        core.apply(entry.seq, entry.ts_us, command)
        if progress is not None and n % 10_000 == 0:
            progress(n)
    return core


def ensure_system_accounts(db: Engine, core: Core) -> None:
    """FEES, RESERVE and the city pools exist from genesis in the registry; give
    them read-model rows so postings can refer to them."""
    a = models.Account.__table__
    with db.begin() as conn:
        have = {r.id for r in conn.execute(select(a.c.id))}
        rows = [
            {
                "id": acc.account_id,
                "name": acc.name,
                "role": "system",
                "city_code": acc.city_code or None,
                "last_seq": 0,
            }
            for acc in core.registry.accounts()
            if str(acc.role) not in LOGIN_ROLES and acc.account_id not in have
        ]
        if rows:
            conn.execute(insert(a), rows)


def has_credentials(db: Engine) -> bool:
    c = models.Credential.__table__
    with db.connect() as conn:
        return conn.execute(select(c.c.username).limit(1)).first() is not None


# Any constant; PostgreSQL advisory locks are per database.
_CORE_LOCK_KEY = 0x454D58_C0DE


class CoreAlreadyRunning(RuntimeError):
    pass


class CoreLock:
    """Only one core may write the journal. On PostgreSQL a session advisory lock,
    held on a connection of its own for the core's lifetime, makes a second core
    refuse to start instead of racing the first. (SQLite is single-process.)"""

    def __init__(self, db: Engine) -> None:
        self._conn = None
        if db.dialect.name != "postgresql":
            return
        conn = db.connect()
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_CORE_LOCK_KEY})").scalar()
        conn.commit()
        if not got:
            conn.close()
            raise CoreAlreadyRunning("another core process holds this database's journal")
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_CORE_LOCK_KEY})")
            self._conn.close()
            self._conn = None
