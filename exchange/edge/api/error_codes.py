"""Every error code the exchange answers with, defined once: its HTTP status and a
short English default message. ApiError, the core's refusals and the registry's
(settlement.errors.ErrorCode) and engine's (matching_engine.errors.RejectReason)
codes all resolve here; tests/unit/infra/test_error_codes.py fails on a code produced
anywhere in the source that is missing, and on one without a sentence in the pages'
catalogues (web/static/i18n)."""

from __future__ import annotations

from typing import NamedTuple


class ErrorSpec(NamedTuple):
    status: int
    message: str


def _group(status: int, **codes: str) -> dict[str, ErrorSpec]:
    return {code: ErrorSpec(status, message) for code, message in codes.items()}


CODES: dict[str, ErrorSpec] = {
    **_group(
        401,
        unauthorized="a valid bearer token is required",
        token_expired="the session has expired; log in again",
        invalid_credentials="wrong username or password",
    ),
    **_group(
        403,
        forbidden="your role may not do this",
        not_allowed="this account may not do this",
        not_your_block_trade="the block trade is not yours to decide",
    ),
    **_group(
        404,
        not_found="no such thing",
        order_not_found="no such order",
        unknown_order="no such order",
        unknown_account="no such account",
        unknown_claim="no such reduction claim",
        unknown_project="no such project",
        unknown_application="no such reallocation application",
        unknown_instrument="no such instrument",
        not_your_city="not in your city",
        alert_not_found="no such alert",
        auction_not_found="no such auction",
        bid_not_found="no such bid",
        block_trade_not_found="no such block trade",
    ),
    **_group(405, method_not_allowed="this method is not allowed here"),
    **_group(
        409,
        insufficient_cash="not enough available cash",
        insufficient_allowances="not enough available allowances",
        market_halted="the market is halted",
        price_outside_band="the price is outside the price band",
        order_not_open="the order is not open",
        not_order_owner="the order is not yours",
        already_verified="the claim has already been decided",
        already_decided="the application has already been decided",
        duplicate_client_order_id="client_order_id was used for a different order",
        duplicate_order_id="the order id is taken",
        username_taken="the username is taken",
        instrument_exists="the instrument is already listed",
        below_city_floor="this would take the city below its floor",
        exceeds_project_requirement="more than the project requires",
        instrument_expired="the instrument has expired",
        auction_closed="the auction is closed",
        bid_below_reserve="the bid is below the reserve price",
        block_trade_not_pending="the block trade is no longer pending",
        no_change="nothing would change",
        duplicate_id="the id is taken",
        month_not_ended="the month has not ended yet",
        already_submitted="the month has already been submitted",
        nothing_to_correct="the month has not been submitted yet",
        already_acknowledged="the alert was already acknowledged",
        post_only_would_cross="a post-only order would trade at once",
        balance_limit="the holding would pass the balance limit",
        busy="the core is committing; retry",
        core_not_in_this_process="this process is a gateway; ask the core process",
    ),
    **_group(413, body_too_large="the request body is too large"),
    **_group(414, url_too_long="the URL is too long"),
    **_group(
        422,
        invalid_input="the input is not valid",
        invalid_decimal="not a decimal number in the right form",
        invalid_amount="the amount must be positive",
        amount_too_large="the amount is too large",
        invalid_price="the price is not valid",
        invalid_quantity="the quantity is not valid",
        price_off_tick="the price is not a multiple of the tick size",
        quantity_off_lot="the quantity is not a multiple of the lot size",
        price_required="a limit order needs a price",
        price_not_allowed="a market order has no price",
        invalid_time_in_force="this time in force does not fit the order",
        invalid_self_trade_prevention="unknown self-trade prevention mode",
        invalid_instrument="the instrument's parameters are not valid",
        invalid_side="the side must be buy or sell",
        invalid_role="unknown role",
        invalid_source="the source is not valid",
        invalid_source_kind="unknown reduction source kind",
        invalid_method="unknown verification method",
        invalid_priority_category="unknown priority category",
        invalid_id="the id is not valid",
        invalid_counterparty="the counterparty is not valid",
        invalid_date="the date is not valid",
        unknown_symbol="no such instrument",
        unknown_city="not a Guangdong city code",
        symbol_mismatch="the instrument does not match",
        approved_exceeds_claim="more approved than was claimed",
        reallocation_sources_mismatch="the sources do not add up to the quantity",
        note_required="a note is required",
        block_below_minimum="below the minimum size of a block trade",
        weak_password="the password is too weak",
        export_too_large="too many rows for one export; narrow the period",
        future_month="the month has not begun",
        genesis_not_first="genesis can only be the first command",
        unknown_command="unknown command kind",
        invalid_command="the command is malformed",
    ),
    **_group(
        429,
        rate_limited="too many requests; retry later",
        too_many_attempts="too many failed logins; retry later",
    ),
    **_group(431, header_too_large="a request header is too large"),
    **_group(500, internal_error="internal error"),
    **_group(
        503,
        unavailable="the exchange is unavailable; retry",
        timeout="the core did not answer in time; retry",
        read_models_behind="the read models have not caught up with the journal yet; retry",
    ),
    # the status of an HTTP error with no code of its own is that error's status
    **_group(400, http_error="the request could not be handled"),
}


def spec(code: str) -> ErrorSpec:
    """The registry's entry; an unknown code is a defect, answered as internal_error's
    status rather than guessed (it was silently 422)."""
    return CODES.get(code) or ErrorSpec(CODES["internal_error"].status, code)
