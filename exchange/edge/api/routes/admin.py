"""The live core's position and state hash, for checking a restart or a replay.

`GET /api/v1/admin/state` (province) answers `{seq, state_hash, journal_seq}` from
the core in this process: `state_hash` is what `emx replay` prints for a journal
ending at `seq`. Only a process that runs the core can answer; a gateway says
`409 core_not_in_this_process`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from exchange.edge.api import responses
from exchange.edge.api.deps import Province
from exchange.edge.api.errors import ApiError
from exchange.infra.journal import Journal

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
ATTEMPTS = 50
RETRY_S = 0.02


def _hash_or_none(core) -> str | None:
    try:
        return core.state_hash()
    except RuntimeError:
        # a dict or set the sequencer changed while it was read: the caller tries again
        return None


@router.get("/state", **responses.doc(responses.CoreState))
async def core_state(caller: Province, request: Request) -> dict:
    runner = request.app.state.runner
    if runner is None:
        raise ApiError(
            "core_not_in_this_process", "this process is a gateway; ask the core process", 409
        )
    journal = Journal(request.app.state.db)
    for _ in range(ATTEMPTS):
        core = runner.sequencer.core
        seq = core.last_seq
        state_hash = await asyncio.to_thread(_hash_or_none, core)
        # Hashed in a worker thread, as the whole state takes long; the sequencer applies
        # commands only on the event loop, whole, and each moves last_seq. Back here on
        # the loop, the same core at the same seq means nothing changed while it was
        # hashed. Reported only once the journal holds that seq: durable state.
        if state_hash is not None and runner.sequencer.core is core and core.last_seq == seq:
            journal_seq, _ = await asyncio.to_thread(journal.last)
            if journal_seq >= seq:
                return {"seq": seq, "state_hash": state_hash, "journal_seq": journal_seq}
        await asyncio.sleep(RETRY_S)
    raise ApiError("busy", "the core is committing; retry", 409)
