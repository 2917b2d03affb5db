"""Screenshots of every page, in both languages, at a laptop's and a phone's width, saved
to the folder the run names at its end (test-artifacts/screenshots unless EMX_SCREENSHOTS
says otherwise). Each page must also load without console errors, in the language chosen,
and fit the phone's screen."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    DEMO_PASSWORD,
    OPERATOR_PASSWORD,
    PROVINCE_PASSWORD,
    api_login,
    console_errors,
    open_browser,
)
from tests.browser.test_pages import _css, _js, _wait

pytestmark = pytest.mark.browser

# name, path, login (or None), what shows the page is ready
PAGES = [
    ("login", "/", None, "#login-submit"),
    ("market", "/market.html", None, "#book-bids tr.lvl"),
    ("trade", "/trade.html", ("ent-440100-3", DEMO_PASSWORD), "#balances dd"),
    (
        "regulator-province",
        "/regulator.html",
        ("province", PROVINCE_PASSWORD),
        "#ledger tbody tr[data-city]",
    ),
    (
        "regulator-city",
        "/regulator.html",
        ("bureau-440300", DEMO_PASSWORD),
        "#ledger tbody tr[data-city]",
    ),
    (
        "auctions-province",
        "/auctions.html",
        ("province", PROVINCE_PASSWORD),
        "#auctions article, #auctions .empty-note",
    ),
    (
        "auctions-enterprise",
        "/auctions.html",
        ("ent-440100-3", DEMO_PASSWORD),
        "#block-trades tbody tr",
    ),
    (
        "operator",
        "/operator.html",
        ("operator", OPERATOR_PASSWORD),
        "#accounts tbody tr[data-account-id]",
    ),
]


# page name -> [(part, what to scroll to once it shows)]
SECTIONS = {
    "regulator-province": [
        ("alerts", "#alerts tbody tr"),
        ("submissions", "#sb-overview tbody tr[data-city]"),
    ],
    "regulator-city": [
        ("alerts", "#alerts tbody tr"),
        ("submissions", "#sb-preview-summary"),
    ],
}


@pytest.fixture(scope="module")
def sessions(service):
    out = {}
    for _, _, who, _ in PAGES:
        if who:
            s = api_login(service.base_url, *who)
            out[who[0]] = {**s, "username": who[0]}
    return out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("width", [1440, 390])
def test_every_page_in_both_languages_and_widths(
    service, _chrome_service, screenshot_dir, sessions, lang, width
):
    driver = open_browser(_chrome_service, width, 900 if width > 500 else 844, lang=lang)
    problems = []
    try:
        for name, path, who, ready in PAGES:
            driver.get(service.base_url + "/")
            if who:
                _js(
                    driver,
                    "localStorage.setItem('emx.session', JSON.stringify("
                    "Object.assign(arguments[0], {logged_in_at: Date.now()})));",
                    sessions[who[0]],
                )
            else:
                _js(driver, "localStorage.removeItem('emx.session');")
            driver.get(service.base_url + path)
            _wait(driver).until(lambda d, r=ready: _css(d, r))
            # the feeds' first messages and the charts' first frames
            _wait(driver).until(
                lambda d: all(
                    e.get_attribute("data-state") == "live" for e in _css(d, ".feed-status")
                )
            )
            driver.execute_async_script(
                "const done = arguments[0];"
                " requestAnimationFrame(() => requestAnimationFrame(() => done()));"
            )
            driver.save_screenshot(str(screenshot_dir / f"{name}-{lang}-{width}.png"))
            # the sections further down that have screens of their own
            for part, selector in SECTIONS.get(name, ()):
                _wait(driver).until(lambda d, s=selector: _css(d, s))
                _js(
                    driver,
                    "document.querySelector(arguments[0]).closest('section').scrollIntoView();",
                    selector,
                )
                driver.execute_async_script(
                    "const done = arguments[0]; requestAnimationFrame(() => done());"
                )
                driver.save_screenshot(str(screenshot_dir / f"{name}-{part}-{lang}-{width}.png"))
            if _js(driver, "return document.documentElement.lang") != lang:
                problems.append(f"{name}: not in {lang}")
            if width < 500:
                wide = _js(driver, "return document.documentElement.scrollWidth")
                if wide > width:
                    problems.append(f"{name}: {wide} px wide on a {width} px phone")
            problems += [f"{name}: {e}" for e in console_errors(driver)]
    finally:
        driver.quit()
    assert problems == []
