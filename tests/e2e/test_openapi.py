"""The OpenAPI document served at /openapi.json stays true to API.md."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.helpers import Exchange, ok

# The contract lives beside the repository, not at a path of one machine.
API_MD = Path(__file__).resolve().parents[2].parent / "shared" / "API.md"

# Every endpoint of API.md, as (method, path under /api/v1). Kept here as well as parsed
# from API.md (when it is at hand) so the check runs on any checkout.
DOCUMENTED = {
    ("post", "/session"),
    ("post", "/accounts"),
    ("get", "/accounts/me"),
    ("post", "/accounts/{}/deposits"),
    ("post", "/accounts/{}/withdrawals"),
    ("get", "/accounts/fees"),
    ("get", "/instruments"),
    ("post", "/instruments"),
    ("post", "/market/{}/halt"),
    ("post", "/market/{}/resume"),
    ("post", "/market/{}/close-session"),
    ("get", "/market/{}/book"),
    ("get", "/market/{}/trades"),
    ("get", "/market/{}/ticker"),
    ("get", "/market/{}/candles"),
    ("post", "/orders"),
    ("get", "/orders"),
    ("get", "/orders/{}"),
    ("delete", "/orders/{}"),
    ("patch", "/orders/{}"),
    ("get", "/trades"),
    ("post", "/reductions"),
    ("post", "/reductions/{}/verify"),
    ("get", "/reductions"),
    ("post", "/projects"),
    ("post", "/projects/{}/allocations"),
    ("get", "/projects/{}/sources"),
    ("get", "/ledger/cities"),
    ("get", "/ledger/cities/{}/monthly"),
    ("put", "/ledger/cities/{}/floor"),
    ("post", "/reallocations"),
    ("post", "/reallocations/{}/decide"),
    ("get", "/surveillance/alerts"),
}

# The project's own additions (README): served, but API.md need not list them.
PROJECT_ADDITIONS = {
    ("get", "/admin/state"),
    ("get", "/reserve"),
    ("post", "/reserve/orders"),
    ("delete", "/reserve/orders/{}"),
    ("post", "/reserve/releases"),
}
# The project's own additions outside /api/v1 (README), each with a response model.
PROJECT_ADDITIONS_OUTSIDE_API = {
    ("get", "/livez"),
}


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def _from_api_md() -> set[tuple[str, str]]:
    """The first column of API.md's endpoint tables, e.g. `GET /orders, GET /orders/{id}`
    or `POST /accounts/{id}/deposits, /withdrawals` (a sibling of the previous path)."""
    found = set()
    for line in API_MD.read_text().splitlines():
        match = re.match(r"\|\s*((?:GET|POST|PUT|PATCH|DELETE) [^|]*)\|", line)
        if not match:
            continue
        method, previous = "", ""
        for part in match.group(1).split(","):
            words = part.split()
            if words[0].isupper():
                method, path = words[0].lower(), words[1]
            else:
                path = previous.rsplit("/", 1)[0] + words[0]
            found.add((method, _normalise(path)))
            previous = path
    return found


def documented() -> set[tuple[str, str]]:
    """This file's list plus whatever API.md lists today (it grows)."""
    return DOCUMENTED | (_from_api_md() if API_MD.exists() else set())


def test_api_md_table_parses_to_at_least_the_known_endpoints():
    if API_MD.exists():
        assert _from_api_md() >= DOCUMENTED


def test_openapi_lists_every_api_md_endpoint(exchange: Exchange):
    doc = ok(exchange.client.get("/openapi.json"), 200)
    served = {
        (method.lower(), _normalise(path.removeprefix("/api/v1")))
        for path, ops in doc["paths"].items()
        for method in ops
        if path.startswith("/api/v1/")
    }
    missing = (documented() | PROJECT_ADDITIONS) - served
    assert not missing, sorted(missing)


def test_project_additions_outside_the_api_are_served_with_a_response_model(exchange: Exchange):
    doc = ok(exchange.client.get("/openapi.json"), 200)
    for method, path in PROJECT_ADDITIONS_OUTSIDE_API:
        answer = doc["paths"][path][method]["responses"]["200"]
        assert answer["content"]["application/json"]["schema"]["$ref"], (method, path)


def test_livez_answers_ok(exchange: Exchange):
    assert ok(exchange.client.get("/livez"), 200) == {"status": "ok"}
