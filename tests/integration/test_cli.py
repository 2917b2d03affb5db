"""The `emx` command as an operator or a regulator uses it."""

import json
import os
import subprocess
import sys

from sqlalchemy import text

from exchange.core.command_codec import to_payload
from exchange.infra.db import migrate
from exchange.infra.db.engine import make_engine
from exchange.infra.journal import Journal
from tests.core_driver import CoreDriver

EMX = [sys.executable, "-m", "exchange.cli"]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMX_")}
    env.update(extra)
    return env


def test_serve_refuses_an_empty_database_without_bootstrap_passwords(tmp_path):
    done = subprocess.run(
        [*EMX, "serve", "--port", "1"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "EMX_OPERATOR_PASSWORD is not set" in done.stdout + done.stderr


def _journal_of_a_session(url: str) -> str:
    d = CoreDriver()
    # the journal fixes its own parameters: replay must not take EMX_FEE_BPS (0 here)
    d.ok({"kind": "genesis", "fee_bps": 10, "stp": "cancel_incoming", "thresholds": {}})
    assert d.core.fee_bps == 10
    d.list_nox()
    bureau = d.account("bureau", "city_bureau", "440100")
    seller, buyer = d.account("seller"), d.account("buyer", city="440300")
    d.issue(seller, bureau, 5_000)
    d.deposit(buyer, 50_000_000)
    d.order(seller, "sell", 321_000, 2_000)
    d.order(buyer, "buy", 322_000, 1_500)
    db = make_engine(url)
    migrate.upgrade(db)
    with db.begin() as conn:
        Journal(db).append(conn, [(seq, ts, c.kind, to_payload(c)) for seq, ts, c in d.log])
    db.dispose()
    return d.core.state_hash()


def test_replay_prints_the_state_hash_of_the_journal(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    expected = _journal_of_a_session(url)
    done = subprocess.run(
        [*EMX, "replay", "--database-url", url],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"state hash  {expected}" in done.stdout


def test_replay_refuses_a_tampered_journal(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _journal_of_a_session(url)
    db = make_engine(url)
    with db.begin() as conn:
        payload = conn.execute(text("SELECT payload FROM journal WHERE seq = 6")).scalar_one()
        forged = json.loads(payload) | {"amount_fen": 99_000_000}
        conn.execute(
            text("UPDATE journal SET payload = :p WHERE seq = 6"), {"p": json.dumps(forged)}
        )
    db.dispose()
    done = subprocess.run(
        [*EMX, "replay", "--database-url", url],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "journal corrupted" in done.stdout
