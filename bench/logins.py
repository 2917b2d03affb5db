"""Logins beside orders: does a flood of logins slow order handling down?

One enterprise sends limit orders one after another and the latency of each is
recorded: first alone, then while `flood_clients` threads log in (with the right
password, so the login throttle does not turn them away and every login costs a full
Argon2 hash with the production parameters). Before Argon2 had a pool of its own it
shared the default thread pool with the group commit, and about 10 logins/s pushed the
order p50 from 8 ms to 1 s.

`emx bench logins` prints the figures; tests/integration/test_logins_beside_orders.py
runs a shorter version with a loose bound.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.service import (
    ENTERPRISE_PASSWORD,
    ServiceProcess,
    random_order,
    service_env,
    setup_market,
)

# RFC 9106's second recommended option, as `emx serve` uses by default
PRODUCTION_ARGON2 = {
    "EMX_ARGON2_TIME_COST": "3",
    "EMX_ARGON2_MEMORY_KIB": "65536",
    "EMX_ARGON2_PARALLELISM": "4",
}


@dataclass
class Figures:
    orders: int
    p50_ms: float
    p99_ms: float
    logins: int = 0
    logins_per_s: float = 0.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def order_stream(base_url: str, token: str, orders: int, seed: int) -> list[float]:
    """Latencies (ms) of `orders` limit orders sent one after another."""
    rng = random.Random(seed)
    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=30.0, headers=headers) as client:
        for n in range(orders):
            body = random_order(rng, f"lb-{seed}-{n}", cross_fraction=0.0)
            started = time.perf_counter()
            r = client.post("/api/v1/orders", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code != 201:
                raise RuntimeError(f"order refused: {r.status_code} {r.text}")
    return latencies


class LoginFlood:
    """`clients` threads logging in as `username` as fast as the server answers."""

    def __init__(self, base_url: str, username: str, clients: int) -> None:
        self.base_url = base_url
        self.username = username
        self.clients = clients
        self.count = 0
        self.unexpected: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _run(self) -> None:
        body = {"username": self.username, "password": ENTERPRISE_PASSWORD}
        with httpx.Client(base_url=self.base_url, timeout=60.0) as client:
            while not self._stop.is_set():
                r = client.post("/api/v1/session", json=body)
                with self._lock:
                    if r.status_code == 200:
                        self.count += 1
                    elif r.status_code != 429:  # a full hashing pool says so; fine
                        self.unexpected.append(f"{r.status_code} {r.text[:200]}")

    def __enter__(self) -> LoginFlood:
        self.started = time.perf_counter()
        self._threads = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)
        ]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        self.elapsed_s = time.perf_counter() - self.started


def measure(
    orders: int = 300, flood_clients: int = 16, *, log_dir: str | Path | None = None
) -> tuple[Figures, Figures]:
    """(without the flood, with it), on a fresh SQLite service with production Argon2."""
    with contextlib.ExitStack() as stack:
        work = Path(log_dir or stack.enter_context(tempfile.TemporaryDirectory()))
        env = service_env(f"sqlite:///{work / 'emx.db'}", **PRODUCTION_ARGON2)
        service = stack.enter_context(ServiceProcess(env, log_dir=work).start(timeout_s=120))
        setup = setup_market(service.base_url, 2, prefix="lb")
        trader, flooder = setup.enterprises
        order_stream(service.base_url, trader.token, 50, seed=1)  # warm up
        quiet = order_stream(service.base_url, trader.token, orders, seed=2)
        with LoginFlood(service.base_url, flooder.username, flood_clients) as flood:
            time.sleep(1.0)  # let the flood fill the hashing pool first
            busy = order_stream(service.base_url, trader.token, orders, seed=3)
        if flood.unexpected:
            raise RuntimeError(f"unexpected login answers: {flood.unexpected[:3]}")
    base = Figures(orders, statistics.median(quiet), _percentile(quiet, 99))
    loaded = Figures(
        orders,
        statistics.median(busy),
        _percentile(busy, 99),
        flood.count,
        flood.count / flood.elapsed_s,
    )
    return base, loaded


def main(orders: int = 300, flood_clients: int = 16) -> None:
    base, loaded = measure(orders, flood_clients)
    print(f"orders alone:         p50 {base.p50_ms:7.1f} ms   p99 {base.p99_ms:7.1f} ms")
    print(
        f"beside {flood_clients} login clients: p50 {loaded.p50_ms:7.1f} ms   "
        f"p99 {loaded.p99_ms:7.1f} ms   ({loaded.logins} logins, {loaded.logins_per_s:.1f}/s)"
    )
    print(f"p99 ratio: {loaded.p99_ms / base.p99_ms:.2f}")
