"""This project's engine beside two published peers, on one seeded stream.

The peers are installed, pinned, into a virtualenv outside the repository (they
are measured, never vendored): `limit-order-book` 2.0.0 (C++ behind ctypes; no
IOC, FOK or self-trade prevention, no fill reports) and `matching-engine` 0.1.1
(pure Python and msgspec; needs Python >= 3.12). Each engine runs in a fresh
process of that interpreter (bench/peer_worker.py), so the peers and
this project run on the same Python; this project runs once more on the
project's own interpreter, and once more on the peers' as pure Python
(PyMatchingEngine with PyFastBook) beside its compiled default. The compiled
modules are built for the peers' interpreter in the source tree that its runs
import (`setup.py build_ext --inplace`), and each row says which ran.

The stream is the `emx bench engine` workload (about 50% passive limits, 35%
cancels of live orders, 15% aggressive limits and market IOCs) with aggressive
orders from owners who never rest orders, so that no order meets its owner's
and engines without self-trade prevention reach the same outcome. Rounds are
interleaved (every engine once per round) and each engine's best round counts:
other processes on the machine only ever slow a round down.

Outcomes are compared after timing: trades (taker, maker, price, quantity, in
order), traded quantity, the final book's levels (side, price, volume, orders)
and its live order ids. `limit-order-book` reports no fills, so for it only the
final book is compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.engine import build_workload
from matching_engine.commands import PlaceOrder
from matching_engine.types import BUY, MARKET

PEERS = ("limit-order-book==2.0.0", "matching-engine==0.1.1")
DEFAULT_VENV = Path.home() / ".cache" / "emx-bench-peers"
WORKER = Path(__file__).with_name("peer_worker.py")
ROOT = Path(__file__).resolve().parents[1]
TAKER_OWNERS = 100


def _python_312() -> str:
    """An interpreter the peers accept: EMX_PEERS_PYTHON, python3.12 (the version
    the figures in BENCHMARKS.md are for) or 3.13 on the PATH, or one that pyenv
    installed."""
    candidates = [os.environ.get("EMX_PEERS_PYTHON", "")]
    candidates += [shutil.which(n) or "" for n in ("python3.12", "python3.13")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        # 3.12 first, then the newest: names sort as text ("3.9" after "3.13")
        def preference(version: Path) -> tuple[bool, list[int]]:
            numbers = [int(n) for n in version.name.split(".") if n.isdigit()]
            return numbers[:2] != [3, 12], [-n for n in numbers]

        for version in sorted(pyenv.iterdir(), key=preference):
            candidates += [str(version / "bin" / "python3")]
    for candidate in candidates:
        if not candidate:
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
        )
        if check.returncode == 0:
            return candidate
    raise SystemExit("the peers need Python >= 3.12: set EMX_PEERS_PYTHON")


def ensure_peers(venv: Path) -> Path:
    """The peers' interpreter, creating the virtualenv and installing them if needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([_python_312(), "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    wanted = [p for p in PEERS if p.replace("-", "_") not in installed.replace("-", "_")]
    if wanted:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True)
    _build_engine_module(python)
    return python


def _build_engine_module(python: Path) -> None:
    """Build the engine's optional compiled modules (the Cython-compiled book and
    engine, the C event constructor) for the peers' interpreter too, beside the
    sources that its run imports (the project's own install built them for the
    project's interpreter). Like the install, a failed build leaves the engine on
    its pure-Python path, which each run reports."""
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout.lower()
    wanted = [p for p in ("setuptools", "cython") if f"{p}==" not in frozen]
    if wanted:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True)
    subprocess.run(
        [str(python), "setup.py", "--quiet", "build_ext", "--inplace"],
        cwd=ROOT, capture_output=True, check=False,
    )  # fmt: skip


def stream_rows(ops: int, seed: int) -> list[list[int]]:
    """The workload as plain integers, so that every engine builds its own commands."""
    cmds, _ = build_workload(ops, seed, taker_owners=TAKER_OWNERS)
    rows = []
    for c in cmds[1:]:  # the first adds the instrument, which each worker does itself
        owner = int(c.owner[1:]) + (1_000 if c.owner[0] == "T" else 0)
        if isinstance(c, PlaceOrder):
            rows.append([1, c.seq, c.ts_us, c.order_id, owner, int(c.side is BUY),
                         int(c.type is MARKET), c.price_fen, c.quantity_kg])  # fmt: skip
        else:
            rows.append([0, c.seq, c.ts_us, c.order_id, owner])
    return rows


def _run(python: str, engine: str, path: str, ours: bool) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if ours:
        # this project's matching_engine ahead of the peer package of the same name
        env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [python, str(WORKER), engine, path], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"{engine} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def measure(ops: int, seed: int, rounds: int, venv: Path) -> dict[str, Any]:
    peer_python = str(ensure_peers(venv))
    contestants = [
        ("this project (peers' Python)", peer_python, "this-project", True),
        ("this project (project's Python)", sys.executable, "this-project", True),
        ("this project, pure Python (peers' Python)", peer_python, "this-project-pure", True),
        ("matching-engine 0.1.1", peer_python, "matching-engine", False),
        ("limit-order-book 2.0.0", peer_python, "limit-order-book", False),
    ]
    rows = stream_rows(ops, seed)
    best: dict[str, dict[str, Any]] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
        path = f.name
    try:
        for _ in range(rounds):
            for label, python, engine, ours in contestants:
                result = _run(python, engine, path, ours)
                if label not in best:
                    best[label] = result
                    continue
                kept = best[label]
                # best wall and best CPU figure may come from different rounds
                kept["ops_per_s"] = max(kept["ops_per_s"], result["ops_per_s"])
                kept["ops_per_cpu_s"] = max(kept["ops_per_cpu_s"], result["ops_per_cpu_s"])
    finally:
        os.unlink(path)
    return {"ops": len(rows), "seed": seed, "rounds": rounds, "results": best}


def outcome_problems(results: dict[str, dict[str, Any]]) -> list[str]:
    """Where an engine's outcome differs from this project's (peers' Python run)."""
    base_label = "this project (peers' Python)"
    base = results[base_label]
    problems = []
    for label, r in results.items():
        for key in ("trades", "traded_qty", "fills", "levels", "live_orders"):
            if key in r and r[key] != base[key]:
                problems.append(f"{label}: {key} {r[key]} != {base[key]} ({base_label})")
    return problems


def main(ops: int = 200_000, seed: int = 42, rounds: int = 3, venv: Path = DEFAULT_VENV) -> dict:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=150)
    console.print(f"peers in {venv}; stream of {ops:,} operations, seed {seed}, best of {rounds}")
    report = measure(ops, seed, rounds, venv)
    results = report["results"]
    same = results["this project (peers' Python)"]
    own = results["this project (project's Python)"]
    table = Table(title="Matching engines side by side, one seeded stream, public APIs")
    for name in ("engine", "Python", "ops/s (wall)", "ops/s (CPU)",
                 f"ours on {same['python']} ÷ it (wall, CPU)",
                 f"ours on {own['python']} ÷ it (wall, CPU)", "checked"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("engine", "checked") else "right")
    for label, r in results.items():
        checked = "trades, fills, book" if "trades" in r else "final book (no fill reports)"
        ratios = [
            f"{o['ops_per_s'] / r['ops_per_s']:.2f}×, "
            f"{o['ops_per_cpu_s'] / r['ops_per_cpu_s']:.2f}×"
            for o in (same, own)
        ]
        if "implementation" in r:
            label += escape(f" [{r['implementation']}]")  # brackets are rich markup
        table.add_row(label, r["python"], f"{r['ops_per_s']:,}", f"{r['ops_per_cpu_s']:,}",
                      *ratios, checked)  # fmt: skip
    console.print(table)
    base = results["this project (peers' Python)"]
    console.print(
        f"outcome: {base['trades']:,} trades, {base['traded_qty']:,} traded, "
        f"{base['resting_orders']:,} orders resting at the end"
    )
    problems = outcome_problems(results)
    for p in problems:
        console.print(f"[red]differs[/]: {p}")
    if not problems:
        console.print("outcomes identical across engines (as far as each reports them)")
    console.print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    report["problems"] = problems
    return report


if __name__ == "__main__":
    main()
