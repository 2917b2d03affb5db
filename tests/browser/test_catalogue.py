"""Every user-visible string of the pages comes from the message catalogues: the markup and
the scripts hold keys, never English or Chinese text, and both catalogues have the same keys.
(No browser needed: this reads the files.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
I18N = WEB / "static" / "i18n"
SCRIPTS = sorted((WEB / "static" / "js").glob("*.js"))
PAGES = sorted(WEB.glob("*.html"))

ENTRY = re.compile(r'^  ("(?:[^"\\]|\\.)*"): ("(?:[^"\\]|\\.)*"),$')
HAN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LETTERS = re.compile(r"[A-Za-z\u3400-\u9fff]")
# a string literal in a script: "…", '…' or `…` (template parts between ${…} included)
LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`', re.S)
TOKEN = re.compile(
    r"(?P<s>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(?P<c>//[^\n]*|/\*.*?\*/)",
    re.S,
)
# English prose: a capitalised word followed by a lower-case one ("No open orders"), or
# three lower-case words in a row ("by the exchange")
PROSE = re.compile(r"\b[A-Z][a-z]+ [a-z]{2,}\b|\b[a-z]{2,} [a-z]{2,} [a-z]{2,}\b")
# literals that are code, not text: CSS classes, selectors, and the like
CODE_CONTEXT = re.compile(
    r"(class|className|querySelector(All)?|\$\$?|closest|classList\.\w+)\s*[:=(]\s*$"
)


def catalogue(name: str) -> dict[str, str]:
    out = {}
    for line in (I18N / name).read_text(encoding="utf-8").splitlines():
        m = ENTRY.match(line)
        if m:
            out[json.loads(m.group(1))] = json.loads(m.group(2))
    assert out, f"{name} holds no messages"
    return out


ZH = catalogue("zh-CN.js")
EN = catalogue("en.js")


def test_both_catalogues_have_the_same_keys_and_no_empty_message():
    assert set(ZH) - set(EN) == set(), "keys only in zh-CN.js"
    assert set(EN) - set(ZH) == set(), "keys only in en.js"
    assert [k for k, v in {**ZH, **EN}.items() if not v.strip()] == []


def test_the_chinese_catalogue_is_chinese_and_the_english_one_english():
    # a message with words in it is Chinese in zh-CN (codes such as "NOX-2025" aside)
    # and has no Chinese characters in en, except the one that names the other language
    words = [
        k
        for k, v in ZH.items()
        if re.search(r"[A-Za-z]{3,}", re.sub(r"\{\w+\}", "", v)) and not HAN.search(v)
    ]
    allowed = {"lang.other", "mkt.option", "rg.m_caption"}
    assert set(words) <= allowed, words
    chinese_in_en = [
        k for k, v in EN.items() if HAN.search(v) and k not in {"lang.other", "brand.mark"}
    ]
    assert chinese_in_en == []


def test_placeholders_match_between_languages():
    for key, zh in ZH.items():
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", EN[key])), key


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.skip = 0
        self.texts: list[str] = []
        self.attrs: list[str] = []
        self.keys: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "alt", "label") and value:
                self.attrs.append(f"{tag} {name}={value!r}")
            if name.startswith("data-i18n") and value:
                self.keys.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(data.strip())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_markup_holds_no_text_only_catalogue_keys(page):
    parser = _Markup()
    parser.feed(page.read_text(encoding="utf-8"))
    assert [t for t in parser.texts if LETTERS.search(t)] == [], "text in the markup"
    assert [a for a in parser.attrs if LETTERS.search(a.split("=", 1)[1])] == [], (
        "text in attributes"
    )
    assert parser.keys, "a page with no catalogue keys"
    missing = sorted(set(parser.keys) - set(ZH))
    assert missing == [], f"keys not in the catalogues: {missing}"
    assert re.search(r'<html lang="zh-CN">', page.read_text(encoding="utf-8"))


def _code(source: str) -> str:
    # comments out (they explain code and are not shown to anyone), strings kept as they are
    return TOKEN.sub(lambda m: m.group("s") or "", source)


def _literals(source: str):
    source = _code(source)
    for m in LITERAL.finditer(source):
        yield source[: m.start()], m.group(0)[1:-1]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_hold_no_user_text(script):
    source = script.read_text(encoding="utf-8")
    assert not HAN.search(_code(source)), "Chinese text in a script"
    prose = []
    for before, text in _literals(source):
        plain = re.sub(r"\$\{[^}]*\}", " ", text)
        if PROSE.search(plain) and not CODE_CONTEXT.search(before[-40:]):
            prose.append(text)
    assert prose == [], "English text in a script (put it in the catalogues)"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_message_key_a_script_asks_for_exists(script):
    source = script.read_text(encoding="utf-8")
    keys = set(re.findall(r"\bt\(\s*\"([\w.]+)\"", source))
    missing = sorted(k for k in keys if k not in ZH)
    assert missing == [], f"{script.name} asks for keys not in the catalogues: {missing}"


def test_every_error_code_of_the_api_has_a_sentence():
    # the codes API.md names (v1.2 included) and those the service raises today
    codes = {
        "insufficient_cash",
        "insufficient_allowances",
        "market_halted",
        "price_outside_band",
        "order_not_open",
        "duplicate_client_order_id",
        "unknown_city",
        "already_verified",
        "token_expired",
        "too_many_attempts",
        "rate_limited",
        "weak_password",
        "body_too_large",
        "amount_too_large",
        "balance_limit",
        "post_only_would_cross",
        "invalid_time_in_force",
        "instrument_expired",
        "already_submitted",
        "approved_exceeds_claim",
        "below_city_floor",
        "exceeds_project_requirement",
        "reallocation_sources_mismatch",
        "price_off_tick",
        "quantity_off_lot",
        "invalid_credentials",
        "not_found",
        "forbidden",
        "unauthorized",
        "invalid_input",
        "no_change",
        "username_taken",
        "not_your_city",
        "already_decided",
        "auction_closed",
        "bid_below_reserve",
        "block_below_minimum",
        "not_your_block_trade",
    }
    assert sorted(c for c in codes if f"err.{c}" not in ZH) == []
    # a sentence each, in tonnes and yuan, never the internal units or the code itself
    for key in (k for k in ZH if k.startswith("err.")):
        for text in (ZH[key], EN[key]):
            assert not re.search(r"\bfen\b|\bkg\b|分/吨|公斤", text), key
            assert "_" not in key or key[4:] not in text, key
