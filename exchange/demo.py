"""The demo market: the 21 cities and their bureaus, enterprises with verified
reductions and cash, projects waiting for quota, NOX-2025, and simulated
traders that keep the market moving at a human pace."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from datetime import datetime

from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from exchange.core import commands
from exchange.core.regulation import SHANGHAI
from exchange.core.units import end_of_day_us, shanghai_today
from exchange.edge import auth
from exchange.infra.db import models
from exchange.infra.sequencer import wall_clock_us
from settlement.accounts import RESERVE_ACCOUNT
from settlement.cities import CITIES, CITY_CODES
from settlement.reductions import SourceKind

log = logging.getLogger(__name__)
SYMBOL = "NOX-2025"
# each simulated trader sells 4 t to the provincial reserve (every demo enterprise holds
# at least 4.9 t); 10 t of it is offered at the demo's open auction
RESERVE_STOCK_KG_EACH = 4_000
RESERVE_AUCTION_KG = 10_000
REFERENCE_FEN = 320_000  # 3,200.00 CNY per tonne
# Last year's SO2 vintage, valid only until the end of today (Asia/Shanghai): the demo
# shows an instrument that expires, its resting orders cancelled with reason `expired`.
# It sorts after NOX-2025, so the pages still open on the main market.
EXPIRING_SYMBOL = "SO2-2024"
DEMO_PASSWORD = "demo-pass"
# the demo's claims cycle through every kind but the catch-all
SOURCE_KINDS = tuple(str(k) for k in SourceKind if k != SourceKind.OTHER_LAWFUL)
INDUSTRIES = (
    ("Power", "电力"),
    ("Ceramics", "陶瓷"),
    ("Cement", "水泥"),
    ("Glass", "玻璃"),
    ("Steel", "钢铁"),
    ("Petrochemical", "石化"),
)
# The simulated traders keep the book moving from accounts of their own, so the
# enterprise logins printed for people stay untouched until their user acts.
SIM_PREFIX = "sim-"
SIM_TRADER_CITIES = ("440100", "440300", "440600", "441900", "440800", "441300")
ENTERPRISES_PER_CITY = {
    "440100": 3,
    "440300": 3,
    "440600": 3,
    "441900": 3,
    "440800": 2,
    "441300": 2,
}


async def _submit(app: FastAPI, command: commands.Command) -> dict:
    reply = await app.state.commands.submit(command)
    if reply.get("error"):
        raise RuntimeError(f"demo command {command.kind} refused: {reply['error']}")
    return reply["result"]


def _already_loaded(app: FastAPI) -> bool:
    i = models.Instrument.__table__
    with app.state.db.connect() as conn:
        return conn.execute(select(i.c.symbol).where(i.c.symbol == SYMBOL)).first() is not None


def _province_id(app: FastAPI) -> str:
    c = models.Credential.__table__
    with app.state.db.connect() as conn:
        return conn.execute(select(c.c.account_id).where(c.c.username == "province")).scalar_one()


def _enterprise_plan() -> list[tuple[str, str, str]]:
    plan = []
    for city in CITIES:
        for n in range(ENTERPRISES_PER_CITY.get(city.code, 1)):
            _, industry_zh = INDUSTRIES[(int(city.code) // 100 + n) % len(INDUSTRIES)]
            username = f"ent-{city.code}-{n + 1}"
            name = f"{city.name_zh}{industry_zh}有限公司"
            plan.append((username, name, city.code))
    for n, code in enumerate(SIM_TRADER_CITIES):
        city = next(c for c in CITIES if c.code == code)
        name = f"{city.name_zh}模拟做市商{n + 1}"
        plan.append((f"{SIM_PREFIX}{code}", name, code))
    return plan


async def load(app: FastAPI) -> None:
    console = Console()
    if _already_loaded(app):
        console.print("[dim]demo data already loaded[/dim]")
        _print_logins(console)
        return
    password_hash = await asyncio.to_thread(auth.hash_password, DEMO_PASSWORD)
    # nobody logs in as a simulated trader: a password no one knows
    sim_hash = await asyncio.to_thread(auth.hash_password, secrets.token_urlsafe(24))
    province = _province_id(app)
    plan = _enterprise_plan()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Loading the demo market", total=2 + len(CITIES) + len(plan))
        await _submit(
            app,
            commands.ListInstrument(
                symbol=SYMBOL,
                pollutant="NOx",
                vintage=2025,
                tick_fen=1,
                lot_kg=1,
                reference_price_fen=REFERENCE_FEN,
                band_bps=1000,
            ),
        )
        today = shanghai_today(wall_clock_us())
        await _submit(
            app,
            commands.ListInstrument(
                symbol=EXPIRING_SYMBOL,
                pollutant="SO2",
                vintage=2024,
                tick_fen=1,
                lot_kg=1,
                reference_price_fen=REFERENCE_FEN - 20_000,
                band_bps=1000,
                valid_until=today.isoformat(),
                valid_until_end_us=end_of_day_us(today),
            ),
        )
        progress.advance(task)

        async def city_chain(city) -> None:
            # one chain per city, all cities at once: the sequencer group-commits them
            rng = random.Random(int(city.code))
            bureau = await _open_bureau(app, city, password_hash, province, rng)
            progress.advance(task)
            for i, (username, name, city_code) in enumerate(plan):
                if city_code == city.code:
                    secret = sim_hash if username.startswith(SIM_PREFIX) else password_hash
                    await _open_enterprise(app, i, username, name, city_code, bureau, secret, rng)
                    progress.advance(task)
            await _submit_reports(app, city, bureau)

        await asyncio.gather(*(city_chain(city) for city in CITIES))
        await _stock_reserve(app)
    _print_logins(console)


async def _stock_reserve(app: FastAPI) -> None:
    """The provincial reserve buys quota from the simulated traders at the reference price
    and offers part of it at auction, so the auctions page has something to bid on and the
    province something left to auction itself."""
    await _submit(app, commands.Deposit(account_id=RESERVE_ACCOUNT, amount_fen=10_000_000))
    sellers = [u for u, _, _ in _enterprise_plan() if u.startswith(SIM_PREFIX)]
    c = models.Credential.__table__
    with app.state.db.connect() as conn:
        accounts = (
            conn.execute(
                select(c.c.account_id).where(c.c.username.in_(sellers)).order_by(c.c.username)
            )
            .scalars()
            .all()
        )
    for n, account in enumerate(accounts):
        await _submit(
            app, _reserve_trade_order(account, "sell", RESERVE_STOCK_KG_EACH, f"demo-stock-{n}")
        )
    await _submit(
        app,
        _reserve_trade_order(
            RESERVE_ACCOUNT, "buy", RESERVE_STOCK_KG_EACH * len(accounts), "demo-stock-reserve"
        ),
    )
    await _submit(
        app,
        commands.OpenAuction(
            symbol=SYMBOL,
            quantity_kg=RESERVE_AUCTION_KG,
            reserve_price_fen=REFERENCE_FEN - 10_000,
            bidder_cap_pct=50,
            note="2025 年度储备排污权拍卖（演示）",
        ),
    )


def _reserve_trade_order(
    account: str, side: str, quantity_kg: int, client_order_id: str
) -> commands.PlaceOrder:
    return commands.PlaceOrder(
        account_id=account,
        client_order_id=client_order_id,
        request_hash="demo",
        symbol=SYMBOL,
        side=side,
        type="limit",
        price_fen=REFERENCE_FEN,
        quantity_kg=quantity_kg,
        time_in_force="GTC",
    )


async def _open_bureau(app: FastAPI, city, password_hash: str, province: str, rng) -> str:
    result = await _submit(
        app,
        commands.OpenAccount(
            username=f"bureau-{city.code}",
            password_hash=password_hash,
            name=f"{city.name_zh}市生态环境局",
            role="city_bureau",
            city_code=city.code,
        ),
    )
    # each city's own pool starts with some verified quota
    pool_kg = rng.randrange(20, 80) * 1000
    await _verified_reduction(
        app,
        commands.ClaimReduction(
            account_id=result["account_id"],
            symbol=SYMBOL,
            quantity_kg=pool_kg,
            source_kind="structure_upgrade",
            description=f"{city.name_zh}：2024 年淘汰落后产能",
            evidence=f"GD-EEB-{city.code}-2024-STRUCT",
        ),
        verifier=province,
        approved_kg=pool_kg,
        method="periodic_check",
        note="已对照 2024 年产业结构调整清单核定",
    )
    return result["account_id"]


async def _verified_reduction(
    app: FastAPI,
    claim: commands.ClaimReduction,
    *,
    verifier: str,
    approved_kg: int,
    method: str,
    note: str,
) -> None:
    """A reduction claimed and approved through the same commands a user sends."""
    claimed = await _submit(app, claim)
    await _submit(
        app,
        commands.VerifyReduction(
            account_id=verifier,
            claim_id=claimed["claim_id"],
            decision="approve",
            approved_kg=approved_kg,
            method=method,
            note=note,
        ),
    )


def _past_months(count: int) -> list[str]:
    """The `count` months before this one in Asia/Shanghai, latest first."""
    now = datetime.now(SHANGHAI)
    index = now.year * 12 + now.month - 1
    return [f"{(index - n) // 12:04d}-{(index - n) % 12 + 1:02d}" for n in range(1, count + 1)]


async def _submit_reports(app: FastAPI, city, bureau: str) -> None:
    """Monthly reports through the same command a bureau sends: two cities in three
    have filed last month (one in seven of them twice, with a correction); half have
    filed the month before, which they can only have done late now. The rest are
    missing, or late once the due day of their month has passed."""
    last, before = _past_months(2)
    n = CITY_CODES.index(city.code)
    filings = []
    if n % 3 != 2:
        filings.append((last, None))
        if n % 7 == 0:
            filings.append((last, "补报一笔已核证的减排量 a verified reduction was left out"))
    if n % 2 == 0:
        filings.append((before, None))
    for month, reason in filings:
        await _submit(
            app,
            commands.SubmitMonthly(
                account_id=bureau,
                city_code=city.code,
                symbol=SYMBOL,
                month=month,
                correction_reason=reason,
            ),
        )


async def _open_enterprise(
    app: FastAPI,
    i: int,
    username: str,
    name: str,
    city_code: str,
    bureau: str,
    password_hash: str,
    rng,
) -> None:
    account = (
        await _submit(
            app,
            commands.OpenAccount(
                username=username,
                password_hash=password_hash,
                name=name,
                role="enterprise",
                city_code=city_code,
            ),
        )
    )["account_id"]
    await _submit(
        app,
        commands.Deposit(
            account_id=account,
            amount_fen=rng.randrange(50, 300) * 1_000_000,
        ),
    )
    for _ in range(1 + (i % 2)):
        qty = rng.randrange(5_000, 60_000)
        await _verified_reduction(
            app,
            commands.ClaimReduction(
                account_id=account,
                symbol=SYMBOL,
                quantity_kg=qty,
                source_kind=SOURCE_KINDS[(i + qty) % len(SOURCE_KINDS)],
                description="低氮燃烧器改造及 SCR 脱硝",
                evidence=f"CEMS-{city_code}-{i:03d}-{qty}",
            ),
            verifier=bureau,
            approved_kg=qty - qty % 100,
            method="online_monitoring" if i % 3 else "on_site_inspection",
            note="在线监测数据与申请一致",
        )
    if i % 5 == 0:
        qty = rng.randrange(2_000, 10_000)
        await _verified_reduction(
            app,
            commands.ClaimReduction(
                account_id=account,
                symbol=EXPIRING_SYMBOL,
                quantity_kg=qty,
                source_kind="self_initiated",
                description="2024 年度：去年完成脱硫设施升级改造",
                evidence=f"CEMS-{city_code}-{i:03d}-2024",
            ),
            verifier=bureau,
            approved_kg=qty,
            method="periodic_check",
            note="有效期至今日",
        )
    if i % 4 == 1 and not username.startswith(SIM_PREFIX):
        await _submit(
            app,
            commands.RegisterProject(
                account_id=account,
                name=f"{name.removesuffix('有限公司')}扩建项目",
                city_code=city_code,
                priority_category=("key_construction", "strategic_cluster", "ordinary")[i % 3],
                symbol=SYMBOL,
                required_kg=rng.randrange(10, 40) * 1000,
                eia_reference=f"粤环审〔2025〕{100 + i}号",
            ),
        )


def _print_logins(console: Console) -> None:
    table = Table(title="Demo logins (password for bureaus and enterprises: demo-pass)")
    table.add_column("username")
    table.add_column("role")
    table.add_column("password")
    table.add_row("operator", "operator", "operator-demo (or EMX_OPERATOR_PASSWORD)")
    table.add_row("province", "province", "province-demo (or EMX_PROVINCE_PASSWORD)")
    table.add_row("bureau-440100 … bureau-445300", "city_bureau", DEMO_PASSWORD)
    table.add_row("ent-440100-1, ent-440300-2, …", "enterprise", DEMO_PASSWORD)
    console.print(table)


async def simulate(app: FastAPI, interval_s: float = 0.7, seed: int | None = None) -> None:
    """Simulated traders: quotes around a drifting fair price, some crossing orders,
    some cancels. They go through the same command path as real clients."""
    rng = random.Random(seed)
    c, a = models.Credential.__table__, models.Account.__table__
    with app.state.db.connect() as conn:
        traders = [
            r.account_id
            for r in conn.execute(
                select(c.c.account_id)
                .join(a, a.c.id == c.c.account_id)
                .where(a.c.role == "enterprise", c.c.username.startswith(SIM_PREFIX))
            )
        ]
    if not traders:
        return
    fair = REFERENCE_FEN
    live: list[tuple[str, int]] = []
    n = 0
    while True:
        await asyncio.sleep(interval_s * rng.uniform(0.3, 1.7))
        n += 1
        fair = max(
            REFERENCE_FEN * 92 // 100,
            min(REFERENCE_FEN * 108 // 100, fair + rng.randint(-300, 300)),
        )
        trader = rng.choice(traders)
        roll = rng.random()
        try:
            if roll < 0.2 and live:
                account, order_id = live.pop(rng.randrange(len(live)))
                await app.state.commands.submit(
                    commands.CancelOrder(account_id=account, order_id=order_id)
                )
                continue
            side = rng.choice(("buy", "sell"))
            aggressive = roll > 0.8
            offset = rng.randint(1, 12) * 100
            if aggressive:
                price = fair + offset if side == "buy" else fair - offset
            else:
                price = fair - offset if side == "buy" else fair + offset
            reply = await app.state.commands.submit(
                commands.PlaceOrder(
                    account_id=trader,
                    client_order_id=f"sim-{n}-{rng.randrange(1 << 30)}",
                    request_hash="simulated",
                    symbol=SYMBOL,
                    side=side,
                    type="limit",
                    price_fen=price,
                    quantity_kg=rng.randrange(1, 40) * 100,
                    time_in_force="GTC",
                )
            )
            if not reply.get("error"):
                live.append((trader, reply["result"]["order_id"]))
                if len(live) > 300:
                    account, order_id = live.pop(0)
                    await app.state.commands.submit(
                        commands.CancelOrder(account_id=account, order_id=order_id)
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated trader failed")
