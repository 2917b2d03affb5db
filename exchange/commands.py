"""The commands the sequencer journals, by kind.

A command travels as `{"kind": ..., **payload}` with integers for money and
quantities. The gateway has already checked the caller's role and the shape of
the input; the core checks everything that depends on state. Replaying the
journal feeds these same dicts to the core again, so a payload must hold all
the core needs (ids are derived from `seq`, time from `ts_us`).
"""

from __future__ import annotations

from typing import Final

GENESIS: Final = "genesis"
LIST_INSTRUMENT: Final = "list_instrument"
OPEN_ACCOUNT: Final = "open_account"
DEPOSIT: Final = "deposit"
WITHDRAW: Final = "withdraw"
PLACE_ORDER: Final = "place_order"
CANCEL_ORDER: Final = "cancel_order"
CANCEL_ALL: Final = "cancel_all"
AMEND_ORDER: Final = "amend_order"
HALT: Final = "halt"
RESUME: Final = "resume"
CLOSE_SESSION: Final = "close_session"
SET_REFERENCE_PRICE: Final = "set_reference_price"
CLAIM_REDUCTION: Final = "claim_reduction"
VERIFY_REDUCTION: Final = "verify_reduction"
REGISTER_PROJECT: Final = "register_project"
ALLOCATE: Final = "allocate"
SET_FLOOR: Final = "set_floor"
APPLY_REALLOCATION: Final = "apply_reallocation"
DECIDE_REALLOCATION: Final = "decide_reallocation"
RELEASE_RESERVE: Final = "release_reserve"
SUBMIT_MONTHLY: Final = "submit_monthly"
ACKNOWLEDGE_ALERT: Final = "acknowledge_alert"
OPEN_AUCTION: Final = "open_auction"
PLACE_BID: Final = "place_bid"
WITHDRAW_BID: Final = "withdraw_bid"
CLOSE_AUCTION: Final = "close_auction"
PROPOSE_BLOCK_TRADE: Final = "propose_block_trade"
DECIDE_BLOCK_TRADE: Final = "decide_block_trade"

ALL_KINDS: Final = frozenset(
    {
        GENESIS,
        LIST_INSTRUMENT,
        OPEN_ACCOUNT,
        DEPOSIT,
        WITHDRAW,
        PLACE_ORDER,
        CANCEL_ORDER,
        CANCEL_ALL,
        AMEND_ORDER,
        HALT,
        RESUME,
        CLOSE_SESSION,
        SET_REFERENCE_PRICE,
        CLAIM_REDUCTION,
        VERIFY_REDUCTION,
        REGISTER_PROJECT,
        ALLOCATE,
        SET_FLOOR,
        APPLY_REALLOCATION,
        DECIDE_REALLOCATION,
        RELEASE_RESERVE,
        SUBMIT_MONTHLY,
        ACKNOWLEDGE_ALERT,
        OPEN_AUCTION,
        PLACE_BID,
        WITHDRAW_BID,
        CLOSE_AUCTION,
        PROPOSE_BLOCK_TRADE,
        DECIDE_BLOCK_TRADE,
    }
)


def order_id_for(seq: int) -> int:
    return seq


def account_id_for(seq: int) -> str:
    return f"ACC-{seq}"


def claim_id_for(seq: int) -> str:
    return f"RED-{seq}"


def lot_id_for(seq: int) -> str:
    return f"LOT-{seq}"


def project_id_for(seq: int) -> str:
    return f"PRJ-{seq}"


def reallocation_id_for(seq: int) -> str:
    return f"RAL-{seq}"


def auction_id_for(seq: int) -> str:
    return f"AUC-{seq}"


def bid_id_for(seq: int) -> str:
    return f"BID-{seq}"


def block_trade_id_for(seq: int) -> str:
    return f"BLK-{seq}"


def trade_id_for(symbol: str, trade_no: int) -> str:
    return f"{symbol}-{trade_no}"
