"""The pages against the real service in demo mode, in headless Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DEMO_PASSWORD, PROVINCE_PASSWORD, login

pytestmark = pytest.mark.browser

WAIT_S = 60


def _wait(driver, seconds=WAIT_S):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # rows and balances are re-rendered as feed messages arrive: look again when stale
    return WebDriverWait(
        driver,
        seconds,
        poll_frequency=0.25,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )


def _css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _live(element_id):
    """Wait condition: the feed status badge `element_id` says the socket is live."""
    return lambda d: d.find_element("id", element_id).get_attribute("data-state") == "live"


def _click_label_of(driver, input_id):
    # radios are visually hidden; people click their labels
    driver.find_element("css selector", f'label[for="{input_id}"]').click()


def _js(driver, script, *args):
    # read the DOM in one step: the pages re-render rows as feed messages arrive
    return driver.execute_script(script, *args)


def _texts(driver, selector):
    return _js(
        driver,
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim());",
        selector,
    )


def _trade_ids(driver):
    return set(
        _js(
            driver,
            "return Array.from(document.querySelectorAll('#live-trades tr[data-trade-id]'),"
            " r => r.dataset.tradeId);",
        )
    )


def test_market_page_shows_order_book_trades_and_chart_canvas(service, browser):
    browser.get(service.base_url + "/market.html")
    wait = _wait(browser)
    wait.until(lambda d: d.find_element("id", "instrument").get_attribute("value") == "NOX-2025")
    # depth ladder with price levels (the demo's simulated traders keep quotes in the book)
    wait.until(lambda d: _css(d, "#book-bids tr.lvl") and _css(d, "#book-asks tr.lvl"))
    price = _texts(browser, "#book-bids tr.lvl td.price")[0]
    assert re.fullmatch(r"[\d,]+\.\d{2}", price), price
    qty = _texts(browser, "#book-bids tr.lvl td.num")[0]
    assert re.fullmatch(r"[\d,]+\.\d{3}", qty), qty
    # the chart library draws into canvases inside the chart container
    wait.until(lambda d: _css(d, "#chart canvas"))
    canvas = _css(browser, "#chart canvas")[0]
    assert canvas.size["width"] > 100 and canvas.size["height"] > 100
    # the market feed is live, and the tape fills with trades
    wait.until(_live("market-feed-status"))
    wait.until(lambda d: _css(d, "#trades-tape tr:not(.empty)"))
    assert _css(browser, "#ticker dd")


def test_enterprise_places_an_order_and_sees_it_in_my_orders(service, browser):
    login(browser, service.base_url, "ent-440100-1", DEMO_PASSWORD, "/trade.html")
    wait = _wait(browser)
    wait.until(lambda d: d.find_element("id", "ticket-symbol").text == "NOX-2025")
    wait.until(lambda d: d.find_element("id", "cash-available").text not in ("", "—"))
    wait.until(_live("private-feed-status"))

    # A bid well under the simulated traders' range (but inside the ±10% band) rests.
    _click_label_of(browser, "side-buy")
    _click_label_of(browser, "type-limit")
    browser.find_element("id", "price").send_keys("2900.00")
    browser.find_element("id", "quantity").send_keys("1.250")
    preview = _texts(browser, "#preview")[0]
    assert "3,625.00" in preview  # 2900.00 × 1.250 t locked, computed exactly
    browser.find_element("id", "submit-order").click()

    wait.until(lambda d: "Order " in d.find_element("id", "ticket-msg").text)
    flash = browser.find_element("id", "ticket-msg")  # the flash element itself stays put
    assert "flash-error" not in flash.get_attribute("class"), flash.text
    order_id = re.search(r"Order (\S+):", flash.text).group(1)
    row_css = f'#open-orders tr[data-order-id="{order_id}"]'

    row_text = wait.until(lambda d: (_texts(d, row_css) or [None])[0])
    assert "2,900.00" in row_text and "1.250" in row_text
    # the cash it locked shows in the balances
    wait.until(lambda d: d.find_element("id", "cash-locked").text not in ("", "—", "0.00"))

    # and it can be cancelled from the table
    _js(browser, "document.querySelector(arguments[0] + ' button.btn-danger').click();", row_css)
    wait.until(lambda d: not _css(d, row_css))


def test_regulator_page_shows_live_trades_with_counterparties(service, browser):
    login(browser, service.base_url, "province", PROVINCE_PASSWORD, "/regulator.html")
    wait = _wait(browser)
    wait.until(_live("reg-feed-status"))
    wait.until(lambda d: _css(d, "#ledger tbody tr[data-city]"))
    first = _trade_ids(browser)
    # a trade that arrives over /ws/regulator after the page loaded
    _wait(browser, 90).until(lambda d: _trade_ids(d) - first)
    cells = _texts(browser, "#live-trades tr[data-trade-id]:first-child td")
    assert re.search(r"\d\.\d{2}$", cells[2]), cells
    assert cells[4] and cells[5], cells  # buyer and seller named
