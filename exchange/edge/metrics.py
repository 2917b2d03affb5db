"""`GET /metrics`: the service's figures in the Prometheus text format.

Counted by the sequencer where the core runs in this process (orders, trades,
refusals by code, commit latency, snapshots); kept by the feeds (clients);
read at scrape time from this process' queue and bus (queue depth, feed backlog). A registry
per app, not prometheus_client's global one, so several apps in one process (the
tests) do not share counts.

Open to loopback callers (a scraper beside the service) and to operators.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from exchange.edge.api.deps import current_caller
from exchange.edge.api.errors import ApiError
from matching_engine.events import Trade
from settlement.accounts import Role

# group commits are a few ms; a snapshot inside one used to take seconds
COMMIT_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PLACE_KINDS = frozenset({"place_order"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.orders = Counter("emx_orders", "Orders accepted (journaled)", registry=r)
        self.trades = Counter("emx_trades", "Trades executed", registry=r)
        self.rejects = Counter(
            "emx_rejects", "Commands refused, by error code", ["code"], registry=r
        )
        self.commands = Counter("emx_commands", "Commands journaled", registry=r)
        self.commit_seconds = Histogram(
            "emx_commit_seconds",
            "Group commit latency (journal, read models, commit)",
            buckets=COMMIT_BUCKETS_S,
            registry=r,
        )
        self.snapshots = Counter(
            "emx_snapshots_started", "Snapshots started (forked or inline)", registry=r
        )
        self.queue_depth = Gauge("emx_queue_depth", "Commands waiting for the core", registry=r)
        self.feed_clients = Gauge("emx_feed_clients", "Open WebSocket feed connections", registry=r)
        self.feed_backlog = Gauge(
            "emx_feed_backlog_messages",
            "Messages waiting in the fullest feed subscriber's queue (the feed lag)",
            registry=r,
        )

    def committed(self, outcomes, commands, seconds: float) -> None:
        """Count a committed batch: `outcomes` of `commands`, in order."""
        self.commit_seconds.observe(seconds)
        self.commands.inc(len(outcomes))
        trades = 0
        for out, command in zip(outcomes, commands, strict=True):
            if out.error is not None:
                self.rejects.labels(out.error[0]).inc()
            elif command.kind in PLACE_KINDS:
                self.orders.inc()
            trades += sum(1 for e in out.engine_events if isinstance(e, Trade))
        if trades:
            self.trades.inc(trades)

    async def render(self, app) -> bytes:
        self.queue_depth.set(await app.state.commands.pending())
        self.feed_backlog.set(app.state.bus.backlog())
        return generate_latest(self.registry)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


router = APIRouter()


@router.get(
    "/metrics",
    tags=["health"],
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
async def metrics(request: Request) -> Response:
    if not _loopback(request):
        caller = await current_caller(request)
        if caller.role != Role.OPERATOR:
            raise ApiError("forbidden", f"this needs the role operator; you are {caller.role}", 403)
    body = await request.app.state.metrics.render(request.app)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
