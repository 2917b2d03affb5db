"""The pages against the real service in demo mode, in headless Chromium: every page and
role, the main task on each, what it shows live, the language switch, and the phone."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import (
    DEMO_PASSWORD,
    OPERATOR_PASSWORD,
    PROVINCE_PASSWORD,
    allow_refusals,
    api,
    api_login,
    login,
)

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


def _text(driver, selector):
    return (_texts(driver, selector) or [""])[0]


def _first_texts(wait, selector):
    """The texts of the first element matching `selector` and its cells, read in one step
    once there is one: the demo's traders can empty a side of the book between two reads."""
    return wait.until(
        lambda d: _js(
            d,
            "const e = document.querySelector(arguments[0]);"
            "return e && Array.from(e.children, c => c.innerText.trim());",
            selector,
        )
    )


def _trade_ids(driver):
    return set(
        _js(
            driver,
            "return Array.from(document.querySelectorAll('#live-trades tr[data-trade-id]'),"
            " r => r.dataset.tradeId);",
        )
    )


def _confirm(driver, expect=(), shot=None):
    """The in-page confirmation: check what it says will happen, then confirm."""
    wait = _wait(driver, 10)
    wait.until(lambda d: _css(d, "#confirm-dialog[open]"))
    if shot:
        driver.save_screenshot(str(shot))
    text = _text(driver, "#confirm-dialog")
    for part in expect:
        assert part in text, (part, text)
    driver.find_element("id", "confirm-ok").click()
    wait.until(lambda d: not _css(d, "#confirm-dialog"))
    return text


def _no_overflow(driver):
    width = _js(driver, "return document.documentElement.scrollWidth")
    inner = _js(driver, "return window.innerWidth")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"


def _trade_ready(driver, username):
    login(driver, driver.emx_base, username, DEMO_PASSWORD, "/trade.html")
    wait = _wait(driver)
    wait.until(lambda d: d.find_element("id", "ticket-symbol").text == "NOX-2025")
    wait.until(lambda d: d.find_element("id", "cash-available").text not in ("", "—"))
    wait.until(_live("private-feed-status"))
    return wait


@pytest.fixture(autouse=True)
def _base(request, service):
    for name in ("browser", "phone"):
        if name in request.fixturenames:
            request.getfixturevalue(name).emx_base = service.base_url


def test_market_page_book_depth_chart_status_and_tape(service, browser):
    browser.get(service.base_url + "/market.html")
    wait = _wait(browser)
    assert _js(browser, "return document.documentElement.lang") == "zh-CN"
    wait.until(lambda d: d.find_element("id", "instrument").get_attribute("value") == "NOX-2025")
    # depth ladder with price levels (the demo's simulated traders keep quotes in the book)
    wait.until(lambda d: _css(d, "#book-bids tr.lvl") and _css(d, "#book-asks tr.lvl"))
    price, qty, _total = _first_texts(wait, "#book-bids tr.lvl")
    assert re.fullmatch(r"[\d,]+\.\d{2}", price), price
    assert re.fullmatch(r"[\d,]+\.\d{3}", qty), qty
    # the market's status, in Chinese
    assert _text(browser, "#market-status") == "交易中"
    # the candlestick chart and the depth chart both draw
    wait.until(lambda d: _css(d, "#chart canvas") and _css(d, "#depth-chart"))
    canvas = _css(browser, "#chart canvas")[0]
    assert canvas.size["width"] > 100 and canvas.size["height"] > 100
    depth = _css(browser, "#depth-chart")[0]
    assert depth.size["width"] > 100 and depth.size["height"] > 100
    assert _js(browser, "return !!window.emxMarket.depthChart")
    # thousands separators on the price axis
    assert (
        _js(browser, "return window.emxMarket.chart.options().localization.priceFormatter(3200)")
        == "3,200.00"
    )
    # the chart, volume pane included (its lower part), above the fold at 1440x900
    bottom = _js(browser, "return document.getElementById('chart').getBoundingClientRect().bottom")
    assert bottom <= 900, bottom
    # the market feed is live, and the tape fills with trades
    wait.until(_live("market-feed-status"))
    wait.until(lambda d: _css(d, "#trades-tape tr:not(.empty)"))
    assert _texts(browser, "#ticker dt")[0] == "最新价"


def test_enterprise_order_rests_is_marked_in_the_book_and_cancels_after_confirmation(
    service, browser
):
    wait = _trade_ready(browser, "ent-440100-1")
    # a fresh demo login has done nothing yet: no orders, no fills of its own
    wait.until(lambda d: _css(d, "#open-orders tbody tr.empty"))
    assert _text(browser, "#open-count") == "0"

    # join the best bid with a size no simulated trade will take in a few seconds
    best_bid = _first_texts(wait, "#book-bids tr.lvl")[0].replace(",", "")
    _click_label_of(browser, "side-buy")
    _click_label_of(browser, "type-limit")
    browser.find_element("id", "price").send_keys(best_bid)
    browser.find_element("id", "quantity").send_keys("50.000")
    preview = _text(browser, "#preview")
    assert "冻结资金" in preview and "元" in preview, preview
    browser.find_element("id", "submit-order").click()

    wait.until(lambda d: d.find_element("id", "ticket-msg").get_attribute("data-order-id"))
    flash = browser.find_element("id", "ticket-msg")
    assert "flash-error" not in flash.get_attribute("class"), flash.text
    order_id = flash.get_attribute("data-order-id")
    assert order_id in flash.text and "委托" in flash.text
    row_css = f'#open-orders tr[data-order-id="{order_id}"]'
    row_text = wait.until(lambda d: _text(d, row_css))
    assert "50.000" in row_text and "买入" in row_text
    # the book marks the user's own order at its price
    wait.until(
        lambda d: (
            best_bid
            in [
                t.replace(",", "").lstrip("●").strip()
                for t in _texts(d, "#book-bids tr.mine td.price")
            ]
        )
    )
    # the cash it locked shows in the balances
    wait.until(lambda d: d.find_element("id", "cash-locked").text not in ("", "—", "0.00"))

    # cancel asks first, in Chinese, saying what is released
    _js(browser, "document.querySelector(arguments[0] + ' button.btn-danger').click();", row_css)
    _confirm(browser, ["确认撤单", order_id, "释放"])
    wait.until(lambda d: not _css(d, row_css))
    wait.until(lambda d: not _css(d, "#book-bids tr.mine"))


def test_refusal_reads_as_a_sentence_and_goes_once_the_input_is_corrected(
    service, browser, screenshot_dir
):
    allow_refusals(browser)
    wait = _trade_ready(browser, "ent-440300-1")
    _click_label_of(browser, "type-limit")
    browser.find_element("id", "price").send_keys("4000.00")  # above the +10% band
    browser.find_element("id", "quantity").send_keys("1.000")
    browser.find_element("id", "submit-order").click()
    wait.until(lambda d: "flash-error" in d.find_element("id", "ticket-msg").get_attribute("class"))
    shown = _text(browser, "#ticket-msg .err-text")
    assert shown == "价格超出今日允许的涨跌幅区间。", shown
    visible = _js(browser, "return document.getElementById('ticket-msg').innerText")
    # the band in yuan per tonne; no fen, no code, unless the user opens the details
    assert "2,880.00–3,520.00 元/吨" in visible, visible
    assert "price_outside_band" not in visible and "fen" not in visible, visible
    browser.save_screenshot(str(screenshot_dir / "error-price-band-zh-CN-1440.png"))
    # correcting the price takes the complaint away
    browser.find_element("id", "price").send_keys("\b")
    wait.until(lambda d: not d.find_element("id", "ticket-msg").is_displayed())
    # an empty ticket says what is missing, and that goes too once filled in
    browser.find_element("id", "quantity").clear()
    browser.find_element("id", "submit-order").click()
    assert _text(browser, "#ticket-msg") == "请输入价格和数量。"
    browser.find_element("id", "quantity").send_keys("1")
    wait.until(lambda d: not d.find_element("id", "ticket-msg").is_displayed())


def test_market_order_confirms_worst_price_fills_and_notifies(service, browser, screenshot_dir):
    # notifications allowed, and recorded so the test can see them
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "window.__notes = []; window.Notification = class { constructor(t, o) {"
            " window.__notes.push([t, o && o.body]); }"
            " static get permission() { return 'granted'; }"
            " static requestPermission() { return Promise.resolve('granted'); } };"
        },
    )
    wait = _trade_ready(browser, "ent-440600-1")
    wait.until(lambda d: _css(d, "#book-asks tr.lvl"))
    _click_label_of(browser, "side-buy")
    _click_label_of(browser, "type-market")
    browser.find_element("id", "quantity").send_keys("0.010")
    browser.find_element("id", "submit-order").click()
    # nothing is sent before the user confirms what can happen
    text = _confirm(
        browser,
        ["确认市价委托", "最差成交价", "3,520.00 元/吨", "冻结资金", "35.20 元"],
        shot=screenshot_dir / "dialog-market-order-zh-CN-1440.png",
    )
    assert "0.010 吨" in text
    wait.until(lambda d: d.find_element("id", "ticket-msg").get_attribute("data-order-id"))
    assert "已成交 0.010 吨" in _text(browser, "#ticket-msg")
    # the fill arrives on the private feed: a toast and a browser notification
    wait.until(lambda d: _js(d, "return window.__notes.length") > 0)
    title, body = _js(browser, "return window.__notes[0]")
    assert title == "委托成交" and "0.010 吨" in body, (title, body)
    wait.until(lambda d: _css(d, "#fills tbody tr:not(.empty)"))


def test_cancel_all_after_confirmation(service, browser):
    wait = _trade_ready(browser, "ent-441900-1")
    for price in ("2900.00", "2901.00"):
        browser.find_element("id", "price").clear()
        browser.find_element("id", "price").send_keys(price)
        browser.find_element("id", "quantity").clear()
        browser.find_element("id", "quantity").send_keys("1.000")
        before = browser.find_element("id", "ticket-msg").get_attribute("data-order-id")
        browser.find_element("id", "submit-order").click()
        wait.until(
            lambda d, b=before: (
                d.find_element("id", "ticket-msg").get_attribute("data-order-id") not in (None, b)
            )
        )
    wait.until(lambda d: _text(d, "#open-count") == "2")
    browser.find_element("id", "cancel-all").click()
    _confirm(browser, ["撤销全部当前委托", "2"])
    wait.until(lambda d: _text(d, "#open-count") == "0")
    wait.until(lambda d: d.find_element("id", "cash-locked").text == "0.00")


def test_operator_deposits_twice_with_confirmations(service, browser):
    login(browser, service.base_url, "operator", OPERATOR_PASSWORD, "/operator.html")
    wait = _wait(browser)
    wait.until(lambda d: _css(d, "#accounts tbody tr[data-account-id]"))
    op = api_login(service.base_url, "operator", OPERATOR_PASSWORD)
    _, enterprises = api(service.base_url, "GET", "/accounts?role=enterprise", token=op["token"])
    account = enterprises["items"][0]["id"]
    wait.until(lambda d: _css(d, f'#accounts tr[data-account-id="{account}"]'))
    before = _text(browser, f'#accounts tr[data-account-id="{account}"] td.cash-available')
    for n in range(2):
        browser.find_element("id", "c-account").clear()
        browser.find_element("id", "c-account").send_keys(account)
        browser.find_element("id", "c-amount").clear()
        browser.find_element("id", "c-amount").send_keys("1000.00")
        deposit = browser.find_element("id", "c-deposit")
        assert deposit.is_enabled(), f"Deposit is disabled before deposit {n + 1}"
        deposit.click()
        _confirm(browser, ["确认入金", "1,000.00 元", account])
        wait.until(lambda d: "flash-ok" in d.find_element("id", "c-msg").get_attribute("class"))
        wait.until(
            lambda d: (
                d.find_element("id", "c-deposit").is_enabled()
                and d.find_element("id", "c-withdraw").is_enabled()
            )
        )

    # the second deposit's row update may come after its message: wait for both in the table
    def fen(text):
        return int(text.replace(",", "").replace(".", ""))

    cell = f'#accounts tr[data-account-id="{account}"] td.cash-available'
    try:
        wait.until(lambda d: fen(_text(d, cell) or "0") - fen(before) == 200_000)
    except Exception:
        pytest.fail(f"two deposits of 1,000.00 yuan: {before} -> {_text(browser, cell)}")
    # no browser confirm box was ever used
    assert "window.confirm" not in _js(browser, "return document.documentElement.outerHTML")


def test_province_sees_live_trades_and_decides_a_reallocation_with_the_project_shown(
    service, browser
):
    # a bureau applies for quota for one of its city's projects (set up through the API)
    province = api_login(service.base_url, "province", PROVINCE_PASSWORD)
    _, projects = api(service.base_url, "GET", "/projects?limit=1000", token=province["token"])
    project = next(p for p in projects["items"] if p["outstanding_quantity"] not in ("0.000",))
    bureau = api_login(service.base_url, f"bureau-{project['city_code']}", DEMO_PASSWORD)
    status, application = api(
        service.base_url,
        "POST",
        "/reallocations",
        {
            "project_id": project["id"],
            "quantity": "1.000",
            "symbol": project["symbol"],
            "priority_category": project["priority_category"],
            "reason": "重点项目指标缺口",
        },
        token=bureau["token"],
    )
    assert status == 201, application

    login(browser, service.base_url, "province", PROVINCE_PASSWORD, "/regulator.html")
    wait = _wait(browser)
    wait.until(_live("reg-feed-status"))
    wait.until(lambda d: _css(d, "#ledger tbody tr[data-city]"))
    first = _trade_ids(browser)
    wait.until(lambda d: _text(d, "#ledger-updated"))
    _js(browser, "document.getElementById('ledger-updated').dataset.seen = '1';")
    # a trade that arrives over /ws/regulator after the page loaded
    _wait(browser, 90).until(lambda d: _trade_ids(d) - first)
    # and the ledger reloads because of it (the page has no timer for the ledger any more)
    wait.until(lambda d: _js(d, "return !document.getElementById('ledger-updated').dataset.seen"))
    cells = _texts(browser, "#live-trades tr[data-trade-id]:first-child td")
    assert re.search(r"\d\.\d{2}$", cells[2]), cells
    assert cells[4] and cells[5], cells  # buyer and seller named

    # an order refused for its price raises an alert, shown in yuan per tonne, not in fen
    ent = api_login(service.base_url, "ent-440800-2", DEMO_PASSWORD)
    refused, _ = api(
        service.base_url,
        "POST",
        "/orders",
        {
            "client_order_id": "browser-band-alert",
            "symbol": "NOX-2025",
            "side": "buy",
            "type": "limit",
            "price": "4000.00",
            "quantity": "1.000",
            "time_in_force": "GTC",
        },
        token=ent["token"],
    )
    assert refused == 409
    wait.until(lambda d: any("超出价格区间" in t for t in _texts(d, "#alerts tbody tr")))
    band_alert = next(t for t in _texts(browser, "#alerts tbody tr") if "超出价格区间" in t)
    assert "3,520.00 元/吨" in band_alert and "fen" not in band_alert, band_alert

    row = f'#reallocations tr[data-application-id="{application["id"]}"]'
    wait.until(lambda d: _css(d, row))
    _js(browser, "document.querySelector(arguments[0] + ' button').click();", row)
    wait.until(
        lambda d: d.find_element("id", "decide-kv").get_attribute("data-project-loaded") == "1"
    )
    kv = _text(browser, "#decide-kv")
    for part in (
        project["name"],
        "项目单位",
        "有限公司",
        "项目所在城市",
        "项目优先类别",
        "尚需指标",
        project["outstanding_quantity"],
    ):
        assert part in kv, (part, kv)
    browser.find_element("css selector", "#decide-form button[type=submit]").click()
    wait.until(lambda d: not _css(d, "#decide-dialog[open]"))
    wait.until(lambda d: "已批准" in _text(d, row))


def test_city_bureau_verifies_a_claim_error_clears_and_the_ledger_moves(service, browser):
    allow_refusals(browser)
    ent = api_login(service.base_url, "ent-440600-2", DEMO_PASSWORD)
    status, claim = api(
        service.base_url,
        "POST",
        "/reductions",
        {
            "symbol": "NOX-2025",
            "quantity": "7.000",
            "source_kind": "deep_treatment",
            "description": "SCR 脱硝改造",
            "evidence": "CEMS-440600-TEST",
        },
        token=ent["token"],
    )
    assert status == 201, claim
    login(browser, service.base_url, "bureau-440600", DEMO_PASSWORD, "/regulator.html")
    wait = _wait(browser)
    assert _text(browser, "#reg-title") == "佛山市生态环境局"
    wait.until(lambda d: _css(d, '#ledger tr[data-city="440600"]'))
    added_before = _texts(browser, '#ledger tr[data-city="440600"] td')[1]
    row = f'#pending-reductions tr[data-reduction-id="{claim["id"]}"]'
    wait.until(lambda d: _css(d, row))
    _js(browser, "document.querySelector(arguments[0] + ' button').click();", row)
    wait.until(lambda d: _css(d, "#verify-dialog[open]"))
    qty = browser.find_element("id", "v-qty")
    qty.clear()
    qty.send_keys("9.000")
    browser.find_element("css selector", "#verify-form button[type=submit]").click()
    wait.until(lambda d: d.find_element("id", "v-msg").is_displayed())
    assert _text(browser, "#v-msg .err-text") == "核定量不能超过申请量。"
    qty.send_keys("\b\b\b\b\b")
    wait.until(lambda d: not d.find_element("id", "v-msg").is_displayed())
    qty.send_keys("7.000")
    browser.find_element("css selector", "#verify-form button[type=submit]").click()
    wait.until(lambda d: not _css(d, "#verify-dialog[open]"))
    wait.until(lambda d: _texts(d, '#ledger tr[data-city="440600"] td')[1] != added_before)
    after = _texts(browser, '#ledger tr[data-city="440600"] td')[1]
    assert round(float(after.replace(",", "")) - float(added_before.replace(",", "")), 3) == 7.0
    # the monthly report is a table with its figures, not a dump of keys
    browser.find_element("css selector", "#monthly-form button[type=submit]").click()
    wait.until(lambda d: _css(d, "#monthly-summary tbody tr"))
    heads = _texts(browser, "#monthly-summary tbody th")
    assert heads == ["期初存余", "新增", "使用", "调入", "调出", "期末存余"], heads
    assert "opening_remaining" not in _text(browser, "#monthly-out")


def test_language_switch_session_in_a_new_tab_and_sign_out(service, browser):
    browser.get(service.base_url + "/")
    wait = _wait(browser)
    assert _text(browser, "#login-h") == "登录"
    browser.find_element("id", "lang-toggle").click()
    wait.until(lambda d: _js(d, "return document.documentElement.lang") == "en")
    assert _text(browser, "#login-h") == "Log in"
    login(browser, service.base_url, "ent-440100-2", DEMO_PASSWORD, "/trade.html")
    wait.until(lambda d: d.find_element("id", "ticket-h").text == "Order ticket")
    token = _js(browser, "return JSON.parse(localStorage.getItem('emx.session')).token")
    # a new tab of the same browser is still logged in, in the language chosen
    browser.switch_to.new_window("tab")
    browser.get(service.base_url + "/trade.html")
    wait.until(lambda d: d.find_element("id", "ticket-symbol").text == "NOX-2025")
    assert "/trade.html" in browser.current_url
    assert _js(browser, "return document.documentElement.lang") == "en"
    # back to Chinese, and sign out: the API forgets the token
    browser.find_element("id", "lang-toggle").click()
    wait.until(lambda d: _js(d, "return document.documentElement.lang") == "zh-CN")
    wait.until(lambda d: d.find_element("id", "logout").text == "退出登录")
    browser.find_element("id", "logout").click()
    wait.until(lambda d: d.current_url.rstrip("/") == service.base_url)
    assert _js(browser, "return localStorage.getItem('emx.session')") is None
    status, _ = api(service.base_url, "GET", "/accounts/me", token=token)
    assert status == 401


def test_warning_before_the_session_expires(service, browser):
    s = api_login(service.base_url, "ent-440800-1", DEMO_PASSWORD)
    browser.get(service.base_url + "/")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    # the server's expiry moved to five minutes from now: the page must warn at once
    session = {**s, "username": "ent-440800-1", "expires_at": soon}
    _js(browser, "localStorage.setItem('emx.session', JSON.stringify(arguments[0]));", session)
    browser.get(service.base_url + "/trade.html")
    wait = _wait(browser)
    wait.until(lambda d: _css(d, "#session-warning"))
    assert "过期" in _text(browser, "#session-warning")


def test_phone_trade_ticket_near_the_top_cards_and_cancel_reachable(service, phone, screenshot_dir):
    wait = _trade_ready(phone, "ent-441300-1")
    _no_overflow(phone)
    top = _js(
        phone, "return document.getElementById('ticket').getBoundingClientRect().top + scrollY"
    )
    assert top < 450, top
    phone.find_element("id", "price").send_keys("2900.00")
    phone.find_element("id", "quantity").send_keys("1.000")
    phone.find_element("id", "submit-order").click()
    wait.until(lambda d: d.find_element("id", "ticket-msg").get_attribute("data-order-id"))
    order_id = phone.find_element("id", "ticket-msg").get_attribute("data-order-id")
    row = f'#open-orders tr[data-order-id="{order_id}"]'
    wait.until(lambda d: _css(d, row))
    # the row is a card: its Cancel button is inside the screen, no sideways scrolling
    button = _css(phone, row + " button.btn-danger")[0]
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    rect = _js(phone, "return arguments[0].getBoundingClientRect().toJSON();", button)
    assert rect["left"] >= 0 and rect["right"] <= 390, rect
    assert (
        _js(phone, "return getComputedStyle(document.querySelector('#open-orders thead')).display")
        == "none"
    )
    phone.save_screenshot(str(screenshot_dir / "orders-as-cards-zh-CN-390.png"))
    button.click()
    _confirm(phone, ["确认撤单"], shot=screenshot_dir / "dialog-cancel-zh-CN-390.png")
    wait.until(lambda d: not _css(d, row))
    _no_overflow(phone)


@pytest.mark.parametrize(
    ("path", "user", "password", "ready"),
    [
        ("/regulator.html", "province", PROVINCE_PASSWORD, "#ledger tbody tr[data-city]"),
        ("/operator.html", "operator", OPERATOR_PASSWORD, "#accounts tbody tr[data-account-id]"),
        ("/market.html", None, None, "#book-bids tr.lvl"),
    ],
)
def test_phone_pages_fit_the_screen(service, phone, path, user, password, ready):
    if user:
        login(phone, service.base_url, user, password, path)
    else:
        phone.get(service.base_url + path)
    _wait(phone).until(lambda d: _css(d, ready))
    _no_overflow(phone)
    # nor do tables make people scroll sideways inside the page
    wide = _js(
        phone,
        "return Array.from(document.querySelectorAll('.table-wrap'))"
        ".filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)"
        ".map(e => (e.querySelector('table') || e).id);",
    )
    assert wide == [], wide


def test_demo_logins_are_untouched_while_the_simulated_traders_trade(service):
    # the market moves (trades on the public tape) ...
    _wait(None, 90).until(
        lambda _: api(service.base_url, "GET", "/market/NOX-2025/trades?limit=5")[1]["items"]
    )
    # ... from the simulated traders' own accounts, never from a login the demo prints
    ent = api_login(service.base_url, "ent-440300-2", DEMO_PASSWORD)
    _, orders = api(service.base_url, "GET", "/orders?limit=100", token=ent["token"])
    _, fills = api(service.base_url, "GET", "/trades?limit=100", token=ent["token"])
    _, me = api(service.base_url, "GET", "/accounts/me", token=ent["token"])
    assert orders["items"] == [] and fills["items"] == []
    assert me["cash"]["locked"] == "0.00"
    assert all(a["locked"] == "0.000" for a in me["allowances"].values())
    assert "有限公司" in me["name"]
    # nobody can log in as a simulated trader with the demo password
    status, _ = api(
        service.base_url, "POST", "/session", {"username": "sim-440300", "password": DEMO_PASSWORD}
    )
    assert status == 401
