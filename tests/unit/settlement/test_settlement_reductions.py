"""Verified reductions are the only source of allowances, and each lot keeps its origin."""

from __future__ import annotations

import pytest
from settlement_world import GZ, SYMBOL, SZ

from settlement import commands
from settlement.errors import SettlementError
from settlement.events import AllowancePosted, LedgerMoved, LotIssued, ReductionVerified


def claim(world, claim_id, claimant, kg=1_000, source_kind="structure_upgrade"):
    return world.cmd(commands.ClaimReduction, claim_id, claimant, SYMBOL, kg, source_kind, "d", "e")


def verify(
    world,
    claim_id,
    verifier,
    approve=True,
    kg=1_000,
    method="on_site_inspection",
    note="",
    lot_id="LOT-1",
):
    return world.cmd(
        commands.VerifyReduction, claim_id, verifier, approve, kg, method, note, lot_id
    )


def refused(world, code, fn, *args, **kwargs):
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as err:
        fn(world, *args, **kwargs)
    assert err.value.code == code
    assert world.reg.state_hash() == before


def test_approved_enterprise_claim_issues_a_lot_into_its_account_that_records_its_origin(world):
    world.enterprise("E", GZ)
    world.bureau("BUR", GZ)
    claim(world, "RED-1", "E", 1_000, "coal_boiler_phaseout")
    events = verify(world, "RED-1", "BUR", kg=800, method="online_monitoring", lot_id="LOT-9")
    assert world.reg.allowances("E", SYMBOL) == (800, 0, 0)
    lot = world.reg.lot("LOT-9")
    assert (lot.claim_id, lot.source_kind, lot.city_code, lot.origin_account_id) == (
        "RED-1",
        "coal_boiler_phaseout",
        GZ,
        "E",
    )
    assert (lot.verifier_account_id, lot.method, lot.pollutant, lot.vintage) == (
        "BUR",
        "online_monitoring",
        "NOx",
        2025,
    )
    kinds = [type(e) for e in events]
    assert kinds == [ReductionVerified, LotIssued, AllowancePosted, LedgerMoved]
    assert world.reg.ledger_row(GZ, SYMBOL).added == 800
    assert world.reg.issued_kg(SYMBOL) == 800


def test_bureau_claim_issues_into_its_city_pool(world):
    world.bureau("BUR", SZ)
    claim(world, "RED-1", "BUR")
    assert world.reg.claim("RED-1").holder_account_id == "POOL-440300"
    verify(world, "RED-1", "PROV")
    assert world.reg.allowances("POOL-440300", SYMBOL) == (1_000, 0, 0)
    assert world.reg.ledger_row(SZ, SYMBOL).remaining == 1_000


def test_bureau_of_another_city_cannot_verify(world):
    world.enterprise("E", GZ)
    world.bureau("SZBUR", SZ)
    claim(world, "RED-1", "E")
    refused(world, "not_your_city", verify, "RED-1", "SZBUR")


def test_the_province_may_verify_a_claim_in_any_city(world):
    world.enterprise("E", SZ)
    claim(world, "RED-1", "E")
    verify(world, "RED-1", "PROV")
    assert world.reg.claim("RED-1").status == "approved"


def test_enterprises_cannot_verify_and_only_enterprises_and_bureaus_claim(world):
    world.enterprise("E", GZ)
    world.enterprise("F", GZ)
    claim(world, "RED-1", "E")
    refused(world, "not_allowed", verify, "RED-1", "F")
    refused(world, "not_allowed", claim, "RED-2", "PROV")


def test_approving_more_than_was_claimed_is_refused(world):
    world.enterprise("E")
    claim(world, "RED-1", "E", 1_000)
    refused(world, "approved_exceeds_claim", verify, "RED-1", "PROV", kg=1_001)


def test_approval_must_be_positive_with_a_known_method(world):
    world.enterprise("E")
    claim(world, "RED-1", "E")
    refused(world, "invalid_amount", verify, "RED-1", "PROV", kg=0)
    refused(world, "invalid_method", verify, "RED-1", "PROV", method="guesswork")
    methods = [
        "online_monitoring",
        "on_site_inspection",
        "periodic_check",
        "enforcement_inspection",
    ]
    for i, method in enumerate(methods, start=2):
        claim(world, f"RED-{i}", "E")
        verify(world, f"RED-{i}", "PROV", method=method, lot_id=f"LOT-{i}")
    assert [world.reg.lot(f"LOT-{i}").method for i in range(2, 6)] == methods


def test_a_second_decision_is_already_verified(world):
    world.enterprise("E")
    claim(world, "RED-1", "E")
    claim(world, "RED-2", "E")
    verify(world, "RED-1", "PROV", lot_id="LOT-1")
    verify(world, "RED-2", "PROV", approve=False, kg=0, note="monitoring data incomplete")
    refused(world, "already_verified", verify, "RED-1", "PROV", lot_id="LOT-2")
    refused(world, "already_verified", verify, "RED-2", "PROV", lot_id="LOT-3")


def test_rejection_needs_a_note_and_issues_nothing(world):
    world.enterprise("E")
    claim(world, "RED-1", "E")
    refused(world, "note_required", verify, "RED-1", "PROV", approve=False, note=" ")
    (event,) = verify(world, "RED-1", "PROV", approve=False, note="no evidence of shutdown")
    assert event.approved is False and event.lot_id == ""
    assert world.reg.allowances("E", SYMBOL) == (0, 0, 0)
    assert world.reg.claim("RED-1").status == "rejected"


def test_claims_are_validated_before_anything_is_recorded(world):
    world.enterprise("E")
    refused(world, "invalid_source_kind", claim, "RED-1", "E", source_kind="wishful_thinking")
    refused(world, "invalid_amount", claim, "RED-1", "E", kg=0)
    refused(world, "unknown_account", claim, "RED-1", "NOBODY")
    refused(world, "unknown_claim", verify, "RED-404", "PROV")
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.ClaimReduction, "RED-1", "E", "SO2-2025", 1, "other_lawful", "", "")
    assert err.value.code == "unknown_symbol" and world.reg.state_hash() == before


def test_every_listed_source_kind_is_accepted(world):
    world.enterprise("E")
    kinds = [
        "structure_upgrade",
        "deep_treatment",
        "coal_boiler_phaseout",
        "clean_energy_substitution",
        "self_initiated",
        "eia_approved_unbuilt",
        "other_lawful",
    ]
    for i, kind in enumerate(kinds):
        claim(world, f"RED-{i}", "E", source_kind=kind)
    assert {world.reg.claim(f"RED-{i}").source_kind for i in range(len(kinds))} == set(kinds)


def test_duplicate_claim_and_lot_ids_are_refused(world):
    world.enterprise("E")
    claim(world, "RED-1", "E")
    claim(world, "RED-2", "E")
    refused(world, "duplicate_id", claim, "RED-1", "E")
    verify(world, "RED-1", "PROV", lot_id="LOT-1")
    refused(world, "duplicate_id", verify, "RED-2", "PROV", lot_id="LOT-1")
