"""One registry of error codes (exchange/edge/api/error_codes.py): every code the source can
produce is in it with its status, and the pages have a sentence for each. A code
missing from the registry was silently a 422 before; now it is a failing test here."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest

from exchange.edge.api.error_codes import CODES
from exchange.edge.api.errors import ApiError, status_for
from matching_engine.errors import RejectReason
from settlement.errors import ErrorCode

REPO = Path(__file__).resolve().parents[3]
SOURCES = [
    p for package in ("exchange", "settlement", "matching_engine")
    for p in sorted((REPO / package).rglob("*.py"))
]  # fmt: skip
# calls whose first argument is an error code
RAISERS = {"ApiError", "CommandRefused", "SettlementError", "InvalidAmount", "error_body"}
# codes passed on from where they were made (and checked there): the core's reply in
# submit, and the error handlers writing the body of an ApiError, an InvalidAmount or an
# HTTP error (its table of codes is read as a dict below)
FORWARDED = {
    ("exchange/edge/api/deps.py", "err['code']"),
    ("exchange/edge/api/errors.py", "exc.code"),
    ("exchange/edge/api/errors.py", "code"),
}


def _calls():
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                yield path, name, node


def produced_codes() -> dict[str, set[str]]:
    """code -> where it is produced, from string literals in the source."""
    found: dict[str, set[str]] = {}

    def note(code: str, path: Path, node: ast.AST) -> None:
        found.setdefault(code, set()).add(f"{path.relative_to(REPO)}:{node.lineno}")

    for path, name, node in _calls():
        first = node.args[0]
        if name in RAISERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            note(first.value, path, node)
        third = node.args[2] if len(node.args) >= 3 else None
        if name in ("_refuse", "_response") and isinstance(third, ast.Constant):
            note(third.value, path, node)
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            # {"code": "..."} bodies written by hand (sequencer replies, edge guards) and
            # the status -> code table of the HTTP error handler
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "code"
                        and isinstance(value, ast.Constant)
                    ):
                        note(value.value, path, node)
                if node.keys and all(
                    isinstance(k, ast.Constant) and isinstance(k.value, int) for k in node.keys
                ):
                    for value in node.values:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            note(value.value, path, node)
    for code in [*ErrorCode, *RejectReason]:
        found.setdefault(code.value, set()).add(type(code).__name__)
    return found


def test_the_scan_finds_codes_of_every_kind():
    found = produced_codes()
    # one from each way a code is produced, so a scan that went blind would fail here
    kinds = ("weak_password", "username_taken", "unavailable", "url_too_long",
             "method_not_allowed", "invalid_decimal", "insufficient_cash",
             "price_off_tick")  # fmt: skip
    for code in kinds:
        assert code in found, code


def test_every_code_the_source_produces_is_in_the_registry():
    missing = {code: sorted(where) for code, where in produced_codes().items() if code not in CODES}
    assert missing == {}


def test_no_code_is_produced_from_an_expression_the_scan_cannot_read():
    opaque = []
    for path, name, node in _calls():
        first = node.args[0]
        if name not in RAISERS or isinstance(first, ast.Constant):
            continue
        text = ast.unparse(first)
        enum_member = re.fullmatch(r"(E|ErrorCode|RejectReason)\.[A-Z_]+", text)
        where = str(path.relative_to(REPO))
        if not enum_member and (where, text) not in FORWARDED and text != "str(ev.reason)":
            opaque.append(f"{path.relative_to(REPO)}:{node.lineno}: {text}")
    assert opaque == []


def test_an_explicit_status_agrees_with_the_registry():
    disagree = []
    for path, name, node in _calls():
        first = node.args[0]
        if name != "ApiError" or not isinstance(first, ast.Constant) or len(node.args) < 3:
            continue
        status = node.args[2]
        if isinstance(status, ast.Constant) and CODES[first.value].status != status.value:
            disagree.append((f"{path.relative_to(REPO)}:{node.lineno}", first.value, status.value))
    assert disagree == []


def test_api_error_takes_status_and_default_message_from_the_registry():
    err = ApiError("insufficient_cash")
    assert (err.status, err.message) == (409, CODES["insufficient_cash"].message)
    assert ApiError("unknown_project", "no project P-1").status == 404
    assert ApiError("rate_limited", "slow down").status == 429


def test_an_unknown_code_is_a_logged_defect_not_a_silent_422(caplog):
    with caplog.at_level(logging.ERROR, logger="exchange.edge.api.errors"):
        assert status_for("no_such_code_anywhere") == 500
    assert "no_such_code_anywhere" in caplog.text


@pytest.mark.parametrize("catalogue", ["zh-CN.js", "en.js"])
def test_the_pages_have_a_sentence_for_every_code(catalogue):
    text = (REPO / "web" / "static" / "i18n" / catalogue).read_text()
    keys = set(re.findall(r'"err\.([a-z_]+)"\s*:', text))
    assert sorted(set(CODES) - keys) == []
