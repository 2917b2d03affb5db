"""The Cython-compiled settlement and core modules against their pure-Python source.

setup.py compiles the modules it names in HOT_MODULES from their own .py files; the
extension sits beside the source and is imported in its place. Two worker processes
run the same random command streams, one on the compiled modules, one made to import
every one of them from its .py, and must agree on the state hash after every few
commands and on every outcome. Skipped where the modules were not built (no compiler
at install time), except under CI=true: CI builds them, so a missing build fails there.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]


def _hot_modules() -> tuple[str, ...]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "HOT_MODULES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py names no HOT_MODULES")


HOT_MODULES = _hot_modules()


def _is_compiled(name: str) -> bool:
    return not importlib.import_module(name).__file__.endswith(".py")


if not all(_is_compiled(name) for name in HOT_MODULES):
    if os.environ.get("CI", "").lower() == "true":
        raise AssertionError("CI builds the compiled settlement and core modules (setup.py)")
    pytest.skip("the compiled settlement and core modules were not built",
                allow_module_level=True)  # fmt: skip

EVERY = 5
"""The state hash is compared after every EVERY commands (and after the last)."""

# One session per input line: ops in, one JSON line out (the module files it ran on,
# the state hash after every EVERY commands, a digest of every outcome).
_WORKER = """
import hashlib, importlib.util, json, os, sys

HOT = set(json.loads(sys.argv[2]))

class SourceOnly:
    # the pure run: each compiled module's .py, not the extension beside it
    def find_spec(self, name, path=None, target=None):
        if name not in HOT:
            return None
        leaf = name.rpartition(".")[2]
        for entry in path or ():
            file = os.path.join(entry, leaf + ".py")
            if os.path.exists(file):
                return importlib.util.spec_from_file_location(name, file)
        return None

if sys.argv[1] == "pure":
    sys.meta_path.insert(0, SourceOnly())

from tests.core_driver import CoreDriver

EVERY = int(sys.argv[3])
for line in sys.stdin:
    fee_bps, ops = json.loads(line)
    d = CoreDriver(fee_bps=fee_bps)
    d.list_nox(reference_fen=320_000, band_bps=500)
    bureau = d.account("bureau", "city_bureau", "440100")
    traders = [d.account(f"t{i}", city=("440100", "440300", "441900")[i % 3]) for i in range(4)]
    for t in traders:
        d.deposit(t, 200_000_000)
        if d.core.registry.account(t).city_code == "440100":
            d.issue(t, bureau, 20_000)
    placed = []
    hashes, digest = [], hashlib.sha256()
    for n, op in enumerate(ops, start=1):
        kind, who = op[0], traders[op[1]]
        if kind == "place":
            _, _, side, price, kg, tif, market = op
            p = {"kind": "place_order", "account_id": who, "client_order_id": f"c{n}",
                 "request_hash": f"h{n}", "symbol": "NOX-2025", "side": side,
                 "type": "market" if market else "limit",
                 "price_fen": None if market else price, "quantity_kg": kg,
                 "time_in_force": tif if not market or tif in ("IOC", "FOK") else "IOC"}
        elif kind == "cancel":
            p = {"kind": "cancel_order", "account_id": who,
                 "order_id": placed[op[2] % len(placed)] if placed else 1}
        elif kind == "amend":
            p = {"kind": "amend_order", "account_id": who,
                 "order_id": placed[op[2] % len(placed)] if placed else 1,
                 "quantity_kg": op[3], "price_fen": op[4]}
        elif kind == "cancel_all":
            p = {"kind": "cancel_all", "account_id": who}
        elif kind in ("deposit", "withdraw"):
            p = {"kind": kind, "account_id": who, "amount_fen": op[2]}
        else:
            p = {"kind": kind, "symbol": "NOX-2025"}
        out = d.apply(p)
        if kind == "place" and out.error is None:
            placed.append(out.result["order_id"])
        digest.update(repr((out.result, out.error, out.engine_events, out.settlement_events,
                            out.alerts, out.orders, out.expired)).encode())
        if n % EVERY == 0 or n == len(ops):
            hashes.append(d.core.state_hash())
    files = sorted(sys.modules[name].__file__ for name in HOT)
    print(json.dumps([files, hashes, digest.hexdigest()]), flush=True)
"""


class Worker:
    def __init__(self, flavour: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER, flavour, json.dumps(HOT_MODULES), str(EVERY)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def run(self, fee_bps: int, ops: list) -> list:
        self.process.stdin.write(json.dumps([fee_bps, ops]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the worker died (exit {self.process.poll()})"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def workers():
    pure, compiled = Worker("pure"), Worker("compiled")
    yield pure, compiled
    pure.close()
    compiled.close()


WHO = st.integers(0, 3)
PRICES = st.integers(min_value=305_000, max_value=335_000)
OPS = st.one_of(
    st.tuples(
        st.just("place"),
        WHO,
        st.sampled_from(["buy", "sell"]),
        st.one_of(PRICES.map(lambda p: p - p % 50), PRICES),
        st.one_of(st.integers(1, 40).map(lambda n: n * 250), st.integers(1, 999)),
        st.sampled_from(["GTC", "GTC", "DAY", "IOC", "FOK"]),
        st.booleans(),
    ),
    st.tuples(st.just("cancel"), WHO, st.integers(0, 50)),
    st.tuples(
        st.just("amend"),
        WHO,
        st.integers(0, 50),
        st.none() | st.integers(1, 20).map(lambda n: n * 250),
        st.none() | PRICES.map(lambda p: p - p % 50),
    ),
    st.tuples(st.just("cancel_all"), WHO),
    st.tuples(st.sampled_from(["deposit", "withdraw"]), WHO, st.integers(1, 50_000_000)),
    st.tuples(st.sampled_from(["halt", "resume", "close_session"]), WHO),
)


def test_setup_builds_what_this_test_compares() -> None:
    assert "settlement.settle" in HOT_MODULES and "exchange.core.state" in HOT_MODULES
    for name in HOT_MODULES:
        assert _is_compiled(name), name


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fee_bps=st.sampled_from([0, 7, 25]), ops=st.lists(OPS, min_size=1, max_size=80))
def test_compiled_and_pure_modules_reach_the_same_state(workers, fee_bps, ops) -> None:
    pure, compiled = workers
    pure_files, pure_hashes, pure_outcomes = pure.run(fee_bps, ops)
    compiled_files, compiled_hashes, compiled_outcomes = compiled.run(fee_bps, ops)
    assert all(f.endswith(".py") for f in pure_files), pure_files
    assert not any(f.endswith(".py") for f in compiled_files), compiled_files
    assert compiled_hashes == pure_hashes
    assert compiled_outcomes == pure_outcomes
