"""Reductions, projects and their provenance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from exchange.core import commands
from exchange.core.units import iso_time, tonnes
from exchange.edge.api import responses
from exchange.edge.api.deps import (
    BureauOrProvince,
    Conn,
    CurrentCaller,
    Enterprise,
    EnterpriseOrBureau,
    NoNul,
    read,
    submit,
)
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import (
    instrument_or_422,
    outside_bureau_city,
    row_by_id,
    submit_and_view,
    view_of,
)
from exchange.edge.api.schemas import AllocationIn, AsciiInt, ProjectIn, ReductionIn, VerifyIn
from exchange.infra.db import models
from settlement.accounts import Role
from settlement.cities import CITY_CODES
from settlement.reductions import ClaimStatus

router = APIRouter(prefix="/api/v1", tags=["registry"], dependencies=[NoNul])
_red = models.Reduction.__table__
_prj = models.Project.__table__
_src = models.ProjectSource.__table__


def reduction_view(r) -> dict:
    return {
        "id": r.id,
        "account_id": r.account_id,
        "city_code": r.city_code,
        "symbol": r.symbol,
        "quantity": tonnes(r.quantity_kg),
        "source_kind": r.source_kind,
        "description": r.description,
        "evidence": r.evidence,
        "status": r.status,
        "approved_quantity": tonnes(r.approved_kg),
        "method": r.method,
        "note": r.note,
        "verifier_account_id": r.verifier_account_id,
        "lot_id": r.lot_id,
        "created_at": iso_time(r.created_us),
        "decided_at": iso_time(r.decided_us),
    }


def project_view(r) -> dict:
    return {
        "id": r.id,
        "owner_account_id": r.owner_account_id,
        "name": r.name,
        "city_code": r.city_code,
        "priority_category": r.priority_category,
        "symbol": r.symbol,
        "required_quantity": tonnes(r.required_kg),
        "allocated_quantity": tonnes(r.allocated_kg),
        "outstanding_quantity": tonnes(r.required_kg - r.allocated_kg),
        "eia_reference": r.eia_reference,
        "created_at": iso_time(r.created_us),
    }


@router.post("/reductions", status_code=201, **responses.doc(responses.Reduction, 201))
async def claim_reduction(body: ReductionIn, caller: EnterpriseOrBureau, request: Request) -> dict:
    await read(request, instrument_or_422, body.symbol)
    command = commands.ClaimReduction(
        account_id=caller.account_id,
        symbol=body.symbol,
        quantity_kg=body.quantity,
        source_kind=body.source_kind,
        description=body.description,
        evidence=body.evidence,
    )
    return await submit_and_view(request, command, "claim_id", _red, reduction_view)


@router.post("/reductions/{claim_id}/verify", **responses.doc(responses.Reduction))
async def verify_reduction(
    claim_id: str, body: VerifyIn, caller: BureauOrProvince, request: Request
) -> dict:
    claim = await read(request, row_by_id, _red, claim_id)
    if claim is None or outside_bureau_city(caller, claim.city_code):
        raise ApiError("not_found", f"no reduction claim {claim_id}")
    if body.decision == "approve":
        if body.approved_quantity is None or body.method is None:
            raise ApiError("invalid_input", "an approval needs approved_quantity and method")
        if claim.status == ClaimStatus.PENDING and body.approved_quantity > claim.quantity_kg:
            raise ApiError(
                "approved_exceeds_claim",
                f"approved {tonnes(body.approved_quantity)} t exceeds the claimed "
                f"{tonnes(claim.quantity_kg)} t",
            )
    await submit(
        request,
        commands.VerifyReduction(
            account_id=caller.account_id,
            claim_id=claim_id,
            decision=body.decision,
            approved_kg=body.approved_quantity,
            method=body.method,
            note=body.note,
        ),
    )
    return await view_of(request, _red, claim_id, reduction_view)


@router.get("/reductions", **responses.doc(responses.Reductions))
def list_reductions(
    caller: CurrentCaller,
    conn: Conn,
    status: str | None = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
) -> dict:
    query = select(_red)
    if caller.role == Role.ENTERPRISE:
        query = query.where(_red.c.account_id == caller.account_id)
    elif caller.role == Role.CITY_BUREAU:
        query = query.where(_red.c.city_code == caller.city_code)
    elif caller.role != Role.PROVINCE:
        raise ApiError("forbidden", "operators do not see reduction claims", 403)
    if status:
        query = query.where(_red.c.status == status)
    rows = conn.execute(query.order_by(_red.c.created_us.desc(), _red.c.id.desc()).limit(limit))
    return {"items": [reduction_view(r) for r in rows]}


@router.get("/reductions/{claim_id}", **responses.doc(responses.Reduction))
def get_reduction(claim_id: str, caller: CurrentCaller, conn: Conn) -> dict:
    r = row_by_id(conn, _red, claim_id)
    visible = r is not None and (
        caller.role == Role.PROVINCE
        or (caller.role == Role.ENTERPRISE and r.account_id == caller.account_id)
        or (caller.role == Role.CITY_BUREAU and r.city_code == caller.city_code)
    )
    if not visible:
        raise ApiError("not_found", f"no reduction claim {claim_id}")
    return reduction_view(r)


def _visible_project(conn, caller, project_id: str, owner_only: bool = False):
    # a role that never sees projects is refused as a role (403), before any lookup
    if caller.role not in (Role.ENTERPRISE, Role.CITY_BUREAU, Role.PROVINCE):
        raise ApiError("forbidden", f"{caller.role} accounts do not see projects", 403)
    p = row_by_id(conn, _prj, project_id)
    allowed = p is not None and (
        (caller.role == Role.ENTERPRISE and p.owner_account_id == caller.account_id)
        or (not owner_only and caller.role == Role.PROVINCE)
        or (not owner_only and caller.role == Role.CITY_BUREAU and p.city_code == caller.city_code)
    )
    if not allowed:
        raise ApiError("not_found", f"no project {project_id}")
    return p


@router.post("/projects", status_code=201, **responses.doc(responses.Project, 201))
async def register_project(body: ProjectIn, caller: Enterprise, request: Request) -> dict:
    city = body.city_code or caller.city_code
    if city not in CITY_CODES:
        raise ApiError("unknown_city", f"{city!r} is not a Guangdong city code")
    await read(request, instrument_or_422, body.symbol)
    command = commands.RegisterProject(
        account_id=caller.account_id,
        name=body.name,
        city_code=city,
        priority_category=body.priority_category,
        symbol=body.symbol,
        required_kg=body.required_quantity,
        eia_reference=body.eia_reference,
    )
    return await submit_and_view(request, command, "project_id", _prj, project_view)


@router.get("/projects", **responses.doc(responses.Projects))
def list_projects(
    caller: CurrentCaller, conn: Conn, limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100
):
    query = select(_prj)
    if caller.role == Role.ENTERPRISE:
        query = query.where(_prj.c.owner_account_id == caller.account_id)
    elif caller.role == Role.CITY_BUREAU:
        query = query.where(_prj.c.city_code == caller.city_code)
    elif caller.role != Role.PROVINCE:
        raise ApiError("forbidden", "operators do not see projects", 403)
    rows = conn.execute(query.order_by(_prj.c.created_us.desc(), _prj.c.id.desc()).limit(limit))
    return {"items": [project_view(r) for r in rows]}


@router.get("/projects/{project_id}", **responses.doc(responses.Project))
def get_project(project_id: str, caller: CurrentCaller, conn: Conn) -> dict:
    return project_view(_visible_project(conn, caller, project_id))


@router.post(
    "/projects/{project_id}/allocations", status_code=201, **responses.doc(responses.Project, 201)
)
async def allocate(
    project_id: str, body: AllocationIn, caller: Enterprise, request: Request
) -> dict:

    def check(conn):
        instrument_or_422(conn, body.symbol)
        return _visible_project(conn, caller, project_id, owner_only=True)

    p = await read(request, check)
    if body.symbol != p.symbol:
        raise ApiError("symbol_mismatch", f"project {project_id} needs {p.symbol}")
    await submit(
        request,
        commands.Allocate(
            account_id=caller.account_id,
            project_id=project_id,
            quantity_kg=body.quantity,
        ),
    )
    return await view_of(request, _prj, project_id, project_view)


@router.get("/projects/{project_id}/sources", **responses.doc(responses.ProjectSources))
def project_sources(project_id: str, caller: CurrentCaller, conn: Conn) -> dict:
    _visible_project(conn, caller, project_id)
    rows = conn.execute(select(_src).where(_src.c.project_id == project_id).order_by(_src.c.id))
    return {
        "items": [
            {
                "lot_id": r.lot_id,
                "reduction_id": r.reduction_id,
                "source_kind": r.source_kind,
                "origin_city_code": r.origin_city_code,
                "origin_account_id": r.origin_account_id,
                "quantity": tonnes(r.quantity_kg),
            }
            for r in rows
        ]
    }
