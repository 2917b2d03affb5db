"""The FastAPI application: gateway routes and feeds, plus (unless it is a
gateway only) the single core with its sequencer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from exchange.config import Settings, require_bootstrap_passwords
from exchange.core import commands
from exchange.edge import auth, sessions
from exchange.edge.api import errors, responses
from exchange.edge.api.error_codes import spec
from exchange.edge.api.fast_orders import OrderFastPath
from exchange.edge.api.guards import EdgeGuards
from exchange.edge.api.routes import (
    accounts,
    admin,
    auctions,
    block_trades,
    ledger,
    market,
    orders,
    registry,
    regulation,
    reserve,
)
from exchange.edge.metrics import Metrics
from exchange.edge.metrics import router as metrics_router
from exchange.edge.throttle import HashingPool, RateLimiter, make_login_throttle
from exchange.edge.ws import router as ws_router
from exchange.edge.ws_trade import router as ws_trade_router
from exchange.infra.bus import make_bus, make_command_queue
from exchange.infra.db import migrate
from exchange.infra.db.engine import make_engine, probe_write
from exchange.infra.projection import (
    DatabaseFence,
    FencedEngine,
    LocalFence,
    ReadModelsBehind,
    catch_up,
)
from exchange.infra.runtime import (
    CoreStart,
    check_parameters,
    ensure_system_accounts,
    genesis_command,
    has_credentials,
    recover,
    start_core,
)
from exchange.infra.sequencer import Sequencer
from settlement.accounts import Role

log = logging.getLogger(__name__)
_LIVE = {"status": "ok"}
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class CoreRunner:
    """Owns the sequencer task inside this process."""

    def __init__(
        self, settings: Settings, db, bus, queue, start: CoreStart | None = None, metrics=None
    ) -> None:
        self.settings = settings
        self.db = db
        start = start or start_core(db, settings)
        self.lock = start.lock
        # a crash between a journal commit and its projection: the tables show less
        # than the journal until the rest is projected, before anything is served
        catch_up(db, settings, start.core.last_seq)
        self.sequencer = Sequencer(
            start.core,
            db,
            bus,
            queue,
            recover=lambda: recover(db, settings),
            batch_max=settings.batch_max,
            snapshot_every=settings.snapshot_every,
            snapshots_keep=settings.snapshots_keep,
            metrics=metrics,
        )
        ensure_system_accounts(db, self.sequencer.core)
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.sequencer.run(), name="sequencer")

    async def stop(self) -> None:
        self.sequencer.stop()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await asyncio.to_thread(self.sequencer.close)
        self.lock.release()


async def ensure_genesis(app: FastAPI, runner: CoreRunner) -> None:
    """A new journal starts with the parameters; an old one must be run with its own."""
    core = runner.sequencer.core
    if core.last_seq == 0:
        reply = await app.state.commands.submit(genesis_command(app.state.settings))
        if reply.get("error"):
            raise RuntimeError(f"could not write the genesis entry: {reply['error']}")
    else:
        check_parameters(core, app.state.settings)


async def bootstrap_logins(app: FastAPI, demo: bool) -> None:
    """Create `operator` and `province` on first start into an empty database."""
    if has_credentials(app.state.db):
        return
    passwords = require_bootstrap_passwords(demo, app.state.settings)
    for username, role, name, password in (
        # names in Simplified Chinese, as Guangdong writes them; the pages show an English
        # label from their catalogue to a user who reads English
        ("operator", Role.OPERATOR.value, "广东省排污权交易中心", passwords.operator),
        ("province", Role.PROVINCE.value, "广东省生态环境厅", passwords.province),
    ):
        reply = await app.state.commands.submit(
            commands.OpenAccount(
                username=username,
                password_hash=await app.state.hashing.run(auth.hash_password, password),
                name=name,
                role=role,
                city_code=None,
            )
        )
        if reply.get("error"):
            raise RuntimeError(f"could not create {username}: {reply['error']}")


ROUTERS = (
    accounts.router,
    market.router,
    orders.router,
    registry.router,
    reserve.router,
    ledger.router,
    regulation.router,
    admin.router,
    auctions.router,
    block_trades.router,
)


async def start_services(
    app: FastAPI, settings: Settings, db, demo: bool, run_core: bool, core_start: CoreStart | None
):
    """Bus, command queue and (unless a gateway only) the core; returns what `stop_services`
    takes down again."""
    app.state.bus = make_bus(settings)
    app.state.commands = make_command_queue(settings)
    await app.state.bus.start()
    await app.state.commands.start()
    revocations = asyncio.create_task(
        sessions.listen_for_revocations(app.state.bus, app.state.token_cache, app.state.live_feeds),
        name="revocations",
    )
    runner = None
    core_queue = None
    if run_core:
        # In production the core drains the shared Redis list; a queue object of
        # its own keeps its blocking reads off the gateway's connection.
        core_queue = make_command_queue(settings) if settings.redis_url else app.state.commands
        if core_queue is not app.state.commands:
            await core_queue.start()
        runner = CoreRunner(settings, db, app.state.bus, core_queue, core_start, app.state.metrics)
        sequencer = runner.sequencer
        fence = LocalFence(lambda: sequencer.committed_seq, sequencer.projection)
    else:
        fence = DatabaseFence(db)
    # every reader of the tables waits until they show each acknowledged command
    app.state.db = FencedEngine(db, fence)
    if runner is not None:
        runner.start()
        await ensure_genesis(app, runner)
        await bootstrap_logins(app, demo)
    app.state.runner = runner
    traders = None
    if demo and run_core:
        from exchange import demo as demo_mod

        await demo_mod.load(app)
        traders = asyncio.create_task(demo_mod.simulate(app), name="demo-traders")
    return revocations, runner, core_queue, traders


async def _cancel(task: asyncio.Task | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def stop_services(app: FastAPI, revocations, runner, core_queue, traders) -> None:
    await _cancel(traders)
    await _cancel(revocations)
    if runner is not None:
        await runner.stop()
    if core_queue is not None and core_queue is not app.state.commands:
        await core_queue.aclose()
    await app.state.commands.aclose()
    await app.state.bus.aclose()


def _init_state(app: FastAPI, settings: Settings) -> None:
    app.state.settings = settings
    app.state.ready = False
    app.state.token_cache = sessions.TokenCache()
    app.state.live_feeds = sessions.LiveFeeds()
    app.state.login_throttle = make_login_throttle(settings)
    app.state.rate_limiter = RateLimiter(
        settings.rate_limit, settings.rate_burst or max(1, int(2 * settings.rate_limit))
    )
    app.state.instrument_steps = {}
    app.state.metrics = Metrics()
    app.state.dummy_hash = auth.hash_password("not-a-real-password")


async def _read_models_behind(_request, exc: ReadModelsBehind) -> JSONResponse:
    # a read waited at the fence for the read models to show what was acknowledged
    log.warning("read refused: %s", exc)
    behind = spec("read_models_behind")
    return JSONResponse(
        errors.error_body("read_models_behind", behind.message),
        behind.status,
        headers={"Retry-After": "1"},
    )


class SeqHeader:
    """`X-Emx-Seq` on the answer to a write: the journal seq of the caller's command
    (set by exchange.edge.api.deps.submit). Any read made after that answer, by anyone,
    shows it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_with_seq(message) -> None:
            if message["type"] == "http.response.start":
                seq = scope.get("state", {}).get("emx_seq")
                if seq is not None:
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"x-emx-seq", str(seq).encode()),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_seq)


def _add_routes(app: FastAPI) -> None:
    for r in ROUTERS:
        app.include_router(r, responses=responses.ERRORS)
    app.include_router(ws_router)
    app.include_router(ws_trade_router)
    app.include_router(metrics_router)

    # The project's own addition: liveness with no I/O at all, so that it measures the bare
    # HTTP stack (the ceiling benchmarks divide by); /healthz probes a database write.
    @app.get("/livez", tags=["health"], **responses.doc(responses.Live))
    async def livez():
        return _LIVE

    @app.get("/healthz", tags=["health"], **responses.doc(responses.Health, 200, 503))
    async def healthz():
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, 503)
        runner = app.state.runner
        if runner is not None and not runner.sequencer.sound:
            # the core could not be recovered after a failure: no command can be applied
            return JSONResponse({"status": "failing", "reason": runner.sequencer.failure}, 503)
        try:
            # Healthy means able to journal, probed now rather than taken from the last
            # commit: a read-only database fails here, and a repaired one passes at once.
            await asyncio.to_thread(probe_write, app.state.db)
        except Exception as exc:
            log.warning("health probe: the database cannot be written: %s", exc)
            return JSONResponse({"status": "failing", "reason": "database not writable"}, 503)
        return {"status": "ok"}


def create_app(
    settings: Settings | None = None,
    *,
    demo: bool = False,
    run_core: bool = True,
    core_start: CoreStart | None = None,
    fast_orders: bool = True,
) -> FastAPI:
    """`core_start`: the core already locked and recovered (by `emx serve`, which
    refuses to start on a corrupted journal before serving anything). `fast_orders`
    False: every order through the FastAPI route (the test comparing the two)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.hashing = HashingPool()
        db = make_engine(settings.database_url)
        await asyncio.to_thread(migrate.upgrade, db)
        app.state.db = db
        services = await start_services(app, settings, db, demo, run_core, core_start)
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await stop_services(app, *services)
            app.state.hashing.shutdown()
            await app.state.login_throttle.aclose()
            db.dispose()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from this server, not a
    # CDN (the exchange runs on closed government networks)
    app = FastAPIOffline(
        title="Guangdong Emissions Exchange",
        version="1.0.0",
        description="Pollutant discharge rights exchange for Guangdong Province (NOx first).",
        lifespan=lifespan,
    )
    _init_state(app, settings)
    errors.install(app)
    app.add_exception_handler(ReadModelsBehind, _read_models_behind)
    _add_routes(app)
    app.add_middleware(EdgeGuards)
    app.add_middleware(SeqHeader)
    if fast_orders:
        # in front of SeqHeader and EdgeGuards: an order it answers passes neither (it adds
        # their headers itself), nor FastAPI's routing and dependencies
        app.add_middleware(OrderFastPath)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
