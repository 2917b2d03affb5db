"""The one codec between commands and their journal (and command-queue) payloads.

Version 1 is the shape commands have always been journaled in, and the only one
so far: `{"kind": ..., **fields}`, a field left out when it holds its default
(so orders without post-only or a self-trade mode journal as they did before
those existed), a reallocation's sources as `[{"from": city, "quantity_kg": n}]`.
A payload without "v" is version 1; a later shape sets "v" and gets its own
decoder here, so every journal ever written keeps replaying to the same state.
"""

from __future__ import annotations

from typing import Any

from exchange.core.commands import COMMANDS, Command, DecideReallocation, MalformedCommand

VERSION = 1


def to_payload(command: Command) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": command.kind}
    defaults = command._defaults
    for name, _check in command._checks:
        value = getattr(command, name)
        if name in defaults and value == defaults[name]:
            continue
        payload[name] = value
    if type(command) is DecideReallocation and command.sources:
        payload["sources"] = [{"from": c, "quantity_kg": kg} for c, kg in command.sources]
    return payload


def from_payload(payload: object) -> Command:
    """The command a payload holds; MalformedCommand if it holds none."""
    if type(payload) is not dict:
        raise MalformedCommand(f"a command is a JSON object, not {type(payload).__name__}")
    version = payload.get("v", 1)
    if version != VERSION:
        raise MalformedCommand(f"unknown command payload version {version!r}")
    kind = payload.get("kind")
    cls = COMMANDS.get(kind) if type(kind) is str else None
    if cls is None:
        raise MalformedCommand(f"unknown command kind {kind!r}")
    values = {n: v for n, v in payload.items() if n != "kind" and n != "v"}
    if cls is DecideReallocation and "sources" in values:
        values["sources"] = _sources(values["sources"])
    try:
        return cls(**values)
    except TypeError as wrong:  # a missing or unknown field
        raise MalformedCommand(f"{kind}: {wrong}") from None


def _sources(value: object) -> tuple[tuple[str, int], ...] | object:
    if type(value) is not list or not all(
        type(s) is dict and s.keys() == {"from", "quantity_kg"} for s in value
    ):
        return value  # the command's own check refuses it
    return tuple((s["from"], s["quantity_kg"]) for s in value)
