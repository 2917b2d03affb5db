"""`emx serve` as an operator meets it on a bad day: a tampered or truncated journal,
a bad snapshot, a missing database directory, a second core on the same SQLite
file, a database that can no longer be written.

The journal and snapshot cases run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bench.service import ServiceProcess, free_port, service_env
from exchange.config import Settings
from exchange.core.command_codec import to_payload
from exchange.infra import snapshots
from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.journal import Journal
from exchange.infra.runtime import genesis_command
from exchange.infra.snapshotter import Snapshotter
from tests.core_driver import CoreDriver

EMX = [sys.executable, "-m", "exchange.cli"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'emx.db'}"
    return request.getfixturevalue("postgres_url")


def write_journal(url: str) -> CoreDriver:
    """A journal of seven entries (genesis, listing, accounts, cash, allowances, orders)."""
    d = CoreDriver()
    # the parameters `emx serve` runs with, so only the checks below can refuse it
    d.ok(genesis_command(Settings(database_url=url)))
    d.list_nox()
    bureau = d.account("bureau", "city_bureau", "440100")
    seller, buyer = d.account("seller"), d.account("buyer", city="440300")
    d.deposit(buyer, 50_000_000)
    d.order(buyer, "buy", 322_000, 1_500)
    assert bureau and seller
    db = make_engine(url)
    upgrade(db)
    with db.begin() as conn:
        Journal(db).append(conn, [(seq, ts, c.kind, to_payload(c)) for seq, ts, c in d.log])
    db.dispose()
    return d


def execute(url: str, sql: str, **params) -> None:
    db = make_engine(url)
    with db.begin() as conn:
        conn.execute(text(sql), params)
    db.dispose()


def serve(url: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`emx serve` that is expected to refuse: it must exit on its own, quickly."""
    return subprocess.run(
        [*EMX, "serve", "--port", str(free_port()), *extra],
        env=service_env(url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_refused_with_one_line(done: subprocess.CompletedProcess, status: int, *words: str):
    output = done.stdout + done.stderr
    assert done.returncode == status, output
    assert "Traceback" not in output and "AssertionError" not in output, output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0], lines[0]


def test_an_untampered_journal_passes_the_start_up_checks(url):
    # the control for the tests below: the same journal, unchanged, is served
    write_journal(url)
    with ServiceProcess(service_env(url)).start(timeout_s=60) as proc:
        assert httpx.get(proc.base_url + "/healthz").status_code == 200


def test_serve_refuses_a_journal_with_an_edited_payload(url):
    write_journal(url)
    # a forged deposit: 500,000.00 CNY becomes 5,000,000.00
    execute(
        url, "UPDATE journal SET payload = replace(payload, '50000000', '500000000') WHERE seq = 6"
    )
    done = serve(url)
    assert_refused_with_one_line(done, 3, "journal corrupted at seq 6")


def test_serve_refuses_a_journal_with_a_missing_entry(url):
    write_journal(url)
    execute(url, "DELETE FROM journal WHERE seq = 4")
    done = serve(url)
    assert_refused_with_one_line(done, 3, "journal corrupted at seq 4", "missing")


def test_serve_refuses_a_snapshot_past_the_end_of_the_journal(url):
    d = write_journal(url)
    data = d.core.snapshot()
    db = make_engine(url)
    with db.begin() as conn:
        # what a half-applied core used to leave: a state at a seq the journal never got
        snapshots.save(conn, 9, d.log[-1][1], hashlib.sha256(data).hexdigest(), data)
    db.dispose()
    done = serve(url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 9")


def test_serve_refuses_a_snapshot_whose_data_was_changed(url):
    d = write_journal(url)
    data = d.core.snapshot()
    db = make_engine(url)
    with db.begin() as conn:
        snapshots.save(conn, 7, d.log[-1][1], hashlib.sha256(data).hexdigest(), data)
    db.dispose()
    execute(url, "UPDATE snapshots SET state_hash = :h WHERE seq = 7", h="0" * 64)
    done = serve(url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "does not match its hash")


def snapshot_beside(url: str, d: CoreDriver) -> Path:
    """The driver's state saved as `emx serve` saves it beside a SQLite file; its path."""
    db = make_engine(url)
    with db.begin() as conn:
        Snapshotter(db, background=False).take_inline(
            conn, d.core, d.core.last_seq, d.log[-1][1], keep=None
        )
    directory = snapshots.directory_for(db)
    db.dispose()
    return directory / snapshots.file_name(d.core.last_seq)


def test_a_snapshot_file_beside_the_database_is_served_from(sqlite_url):
    # the control for the file cases below: the service starts from the file
    d = write_journal(sqlite_url)
    path = snapshot_beside(sqlite_url, d)
    assert path.is_file()
    db = make_engine(sqlite_url)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT data FROM snapshots WHERE seq = 7")).scalar_one()
    db.dispose()
    assert len(stored) < 200  # a pointer, not the state
    with ServiceProcess(service_env(sqlite_url)).start(timeout_s=60) as proc:
        assert httpx.get(proc.base_url + "/healthz").status_code == 200


def test_serve_refuses_a_snapshot_file_that_was_changed(sqlite_url):
    d = write_journal(sqlite_url)
    path = snapshot_beside(sqlite_url, d)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of the compressed state
    path.write_bytes(bytes(data))
    done = serve(sqlite_url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "does not match its hash")


def test_serve_refuses_a_truncated_snapshot_file(sqlite_url):
    d = write_journal(sqlite_url)
    path = snapshot_beside(sqlite_url, d)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    done = serve(sqlite_url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "does not match its hash")


def test_serve_refuses_a_missing_snapshot_file(sqlite_url):
    d = write_journal(sqlite_url)
    snapshot_beside(sqlite_url, d).unlink()
    done = serve(sqlite_url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "missing")


def test_serve_refuses_a_snapshot_whose_row_names_another_state(url):
    # the form `emx serve` writes: a file on SQLite, the blob in the row on PostgreSQL
    d = write_journal(url)
    db = make_engine(url)
    with db.begin() as conn:
        Snapshotter(db, background=False).take_inline(
            conn, d.core, d.core.last_seq, d.log[-1][1], keep=None
        )
    db.dispose()
    execute(url, "UPDATE snapshots SET state_hash = :h WHERE seq = 7", h="0" * 64)
    done = serve(url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "another state hash")


@pytest.mark.integration
def test_serve_refuses_a_snapshot_row_whose_blob_was_changed(postgres_url):
    d = write_journal(postgres_url)
    db = make_engine(postgres_url)
    with db.begin() as conn:
        Snapshotter(db, background=False).take_inline(
            conn, d.core, d.core.last_seq, d.log[-1][1], keep=None
        )
    stored = snapshots.latest(db).data
    db.dispose()
    assert stored.startswith(b"EMXS1")
    changed = stored[:-5] + bytes([stored[-5] ^ 0x01]) + stored[-4:]
    execute(postgres_url, "UPDATE snapshots SET data = :d WHERE seq = 7", d=changed)
    done = serve(postgres_url)
    assert_refused_with_one_line(done, 3, "snapshot corrupted at seq 7", "does not match its hash")


def test_serve_names_a_missing_database_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    done = serve(f"sqlite:///{missing / 'emx.db'}")
    assert_refused_with_one_line(done, 1, str(missing))


def test_a_second_core_on_the_same_sqlite_file_refuses_to_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'emx.db'}"
    with ServiceProcess(service_env(url), log_dir=tmp_path).start(timeout_s=60):
        done = serve(url)
        assert_refused_with_one_line(done, 1, "another core process", "emx.db")
    # and once the first one has stopped, the file is free again
    with ServiceProcess(service_env(url), log_dir=tmp_path).start(timeout_s=60):
        pass


def _health_once_started(proc: ServiceProcess, timeout_s: float = 60) -> httpx.Response:
    """The first /healthz answer that is not 'starting'."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            assert proc.proc.poll() is None, proc.log()
            try:
                r = client.get(proc.base_url + "/healthz")
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if r.json().get("status") != "starting":
                return r
            time.sleep(0.1)
    raise AssertionError(f"the service did not start in {timeout_s} s: {proc.log()}")


def test_health_is_not_ok_when_the_sqlite_database_is_read_only(tmp_path):
    path = tmp_path / "emx.db"
    url = f"sqlite:///{path}"
    with ServiceProcess(service_env(url), log_dir=tmp_path).start(timeout_s=60) as proc:
        assert httpx.get(proc.base_url + "/healthz").status_code == 200
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    proc = ServiceProcess(service_env(read_only), log_dir=tmp_path)
    proc.proc = subprocess.Popen(
        [*EMX, "serve", "--port", str(proc.port), "--log-level", "warning"],
        env=proc.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        r = _health_once_started(proc)
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "failing"
    finally:
        proc.stop()


@pytest.mark.integration
def test_health_is_not_ok_when_the_postgresql_database_is_read_only(postgres_url, tmp_path):
    with ServiceProcess(service_env(postgres_url), log_dir=tmp_path).start(timeout_s=60) as proc:
        assert httpx.get(proc.base_url + "/healthz").status_code == 200
    name = postgres_url.rsplit("/", 1)[1]
    execute(postgres_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with ServiceProcess(service_env(postgres_url), log_dir=tmp_path) as proc:
        proc.proc = subprocess.Popen(
            [*EMX, "serve", "--port", str(proc.port), "--log-level", "warning"],
            env=proc.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        r = _health_once_started(proc)
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "failing"
