"""Cash amounts, fees and buy-hold sizes, in integers only.

A buy order holds exactly what API.md says (`buy_hold_fen`): its limit times what
remains, rounded up to the fen, plus the fee on that, rounded up. A single such
ceiling does NOT bound many separately rounded fills, so an order that can trade at
once also locks, for the length of that one command, a rounding reserve
(`rounding_reserve_fen`); the proofs are below, the mechanics in `settle`.
"""

from __future__ import annotations

from settlement.defects import SettlementDefect

KG_PER_TONNE = 1_000
BPS_DENOMINATOR = 10_000

ROUNDING_RESERVE_FEN_PER_FILL = 2
"""Per resting order an incoming buy could meet: each fill can round up half a fen of
cash and half a fen of fee (plus the fee's share of the cash rounding)."""
ROUNDING_RESERVE_SLACK_FEN = 2
"""Once per command that can trade at all: covers rounding up what remains afterwards."""


def ceil_div(numerator: int, denominator: int) -> int:
    if not (denominator > 0):
        raise SettlementDefect("denominator > 0")
    return -(-numerator // denominator)


def round_half_up_div(numerator: int, denominator: int) -> int:
    if not (numerator >= 0 and denominator > 0):
        raise SettlementDefect("numerator >= 0 and denominator > 0")
    return (2 * numerator + denominator) // (2 * denominator)


def trade_cash_fen(price_fen: int, quantity_kg: int) -> int:
    """What the buyer pays and the seller gets for a fill; prices are per tonne."""
    return round_half_up_div(price_fen * quantity_kg, KG_PER_TONNE)


def fee_fen(cash_fen: int, fee_bps: int) -> int:
    return round_half_up_div(cash_fen * fee_bps, BPS_DENOMINATOR)


def buy_hold_fen(price_fen: int, remaining_kg: int, fee_bps: int) -> int:
    """The cash a buy order holds for `remaining_kg` still to fill, as API.md says:

        H(R) = C + ceil(C * b),   C = ceil(P * R / 1000),   b = fee_bps / 10000.

    What H(R) bounds on its own -- ONE fill of q <= R kg at a price p <= P:
    rhu(x) <= ceil(x) for x >= 0 and ceil is monotone, so
    cash = rhu(p q / 1000) <= ceil(P R / 1000) = C and
    fee = rhu(cash * b) <= ceil(cash * b) <= ceil(C * b); the fill fits the hold.
    That is the case of a resting (maker) buy, which meets one taker per fill.

    What it does not bound: n fills of one incoming order, each rounded half up,
    can cost up to about 1.5 fen per fill more than H(R); see `rounding_reserve_fen`.
    """
    cost = ceil_div(price_fen * remaining_kg, KG_PER_TONNE)
    return cost + ceil_div(cost * fee_bps, BPS_DENOMINATOR)


def rounding_reserve_fen(fills: int) -> int:
    """What an incoming buy locks on top of its hold when it can meet up to `fills`
    resting sell orders in this command: 2 fen per fill plus 2 fen, or nothing.

    Claim: for a limit P, R kg remaining, any n >= 1 fills (p_i <= P, q_i kg, sum Q,
    R' = R - Q) with k_i = rhu(p_i q_i / 1000) and f_i = rhu(k_i b), b <= 1:

        sum(k_i + f_i) + H(R') <= H(R) + 2n + 2.

    Proof. k_i <= p_i q_i/1000 + 1/2 <= P q_i/1000 + 1/2, so sum k_i <= P Q/1000 + n/2.
    C(R') < P R'/1000 + 1 and C(R) >= P R/1000, so
        (A)  sum k_i + C(R') < C(R) + n/2 + 1.
    f_i <= k_i b + 1/2, F(R') = ceil(C(R') b) < C(R') b + 1 and F(R) >= C(R) b, so by (A)
        sum f_i + F(R') <= b (sum k_i + C(R')) + n/2 + 1 < b C(R) + b (n/2 + 1) + n/2 + 1
                        <= F(R) + n + 2.
    Adding: sum(k_i + f_i) + H(R') < H(R) + 1.5 n + 3; all are integers, so the left
    side is at most H(R) + ceil(1.5 n) + 2 <= H(R) + 2n + 2.  []

    With R' = 0 (H(0) = 0) this bounds every prefix of the sweep, so each fill is paid
    from the hold; with R' the remainder it shows the order can rest holding exactly
    H(R') afterwards, so an incoming order that passed its check is never left short.
    The slack is needed: at 90131 fen/t and 7715 bps, a 22 kg buy holds 3513 fen; one
    14 kg fill costs 1262 + 974 fen and the 8 kg left need 1280, 3 fen more than 2n.
    """
    if fills <= 0:
        return 0
    return ROUNDING_RESERVE_FEN_PER_FILL * fills + ROUNDING_RESERVE_SLACK_FEN
