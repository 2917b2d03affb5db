"""The screens of issues 11 and 12 against the real service in demo mode: an auction run by
the province and won by an enterprise, a block trade between two enterprises, an expired
instrument, a month submitted and corrected by a bureau and seen by the province, and an
alert acknowledged on one page and updated live on another. Two browsers where two people
act; one of them in English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import (
    CHROMEDRIVER,
    DEMO_PASSWORD,
    OPERATOR_PASSWORD,
    PROVINCE_PASSWORD,
    _close,
    allow_refusals,
    api,
    api_login,
    login,
    open_browser,
)
from tests.browser.test_pages import _confirm, _css, _js, _live, _text, _texts, _wait

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _open(service, lang=None, width=1440):
    # a chromedriver of its own: quitting one browser stops its driver, not the other's
    from selenium.webdriver.chrome.service import Service as ChromeService

    driver = open_browser(
        ChromeService(executable_path=CHROMEDRIVER), width, 900 if width > 500 else 844, lang=lang
    )
    driver.emx_base = service.base_url
    return driver


@pytest.fixture(autouse=True)
def _base(request, service):
    if "browser" in request.fixturenames:
        request.getfixturevalue("browser").emx_base = service.base_url


@pytest.fixture
def english(service):
    """A second person's browser at 1440x900, in English; fails the test on console errors."""
    driver = _open(service, lang="en")
    yield driver
    errors = _close(driver, service)
    assert not errors, "browser console errors:\n  " + "\n  ".join(errors)


@pytest.fixture
def second(service):
    """A second person's browser at 1440x900, in Chinese."""
    driver = _open(service)
    yield driver
    errors = _close(driver, service)
    assert not errors, "browser console errors:\n  " + "\n  ".join(errors)


def _ok(status_body, expected=(200, 201)):
    status, body = status_body
    assert status in expected, (status, body)
    return body


def _auctions_page(driver, username, password, landing):
    login(driver, driver.emx_base, username, password, landing)
    driver.get(driver.emx_base + "/auctions.html")
    wait = _wait(driver)
    wait.until(_live("au-feed-status"))
    return wait


def _click(driver, selector):
    """Click what `selector` finds now (in one step: the pages re-render as news arrives)."""
    _js(driver, "document.querySelector(arguments[0]).click();", selector)


def _data(driver, selector, key):
    """The data-`key` of every element `selector` matches, in one step."""
    return _js(
        driver,
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.dataset[arguments[1]]);",
        selector,
        key,
    )


def _previous_month() -> str:
    today = dt.datetime.now(SHANGHAI).date()
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _stock_reserve(base: str, province: dict, quantity: str) -> None:
    """The reserve buys `quantity` on the market (an enterprise offers it at the band's top)."""
    op = api_login(base, "operator", OPERATOR_PASSWORD)
    _ok(api(base, "POST", "/accounts/RESERVE/deposits", {"amount": "1000000.00"}, op["token"]))
    seller = api_login(base, "ent-441300-2", DEMO_PASSWORD)
    order = {"symbol": "NOX-2025", "type": "limit", "price": "3520.00", "quantity": quantity}
    _ok(
        api(
            base,
            "POST",
            "/orders",
            {**order, "side": "sell", "time_in_force": "GTC", "client_order_id": "stock-s"},
            seller["token"],
        )
    )
    _ok(
        api(
            base,
            "POST",
            "/reserve/orders",
            {**order, "side": "buy", "time_in_force": "IOC", "client_order_id": "stock-r"},
            province["token"],
        )
    )


def test_province_runs_an_auction_an_enterprise_bids_withdraws_and_wins(
    service, browser, second, screenshot_dir
):
    base = service.base_url
    province = api_login(base, "province", PROVINCE_PASSWORD)
    _stock_reserve(base, province, "6.000")
    reserve = _ok(api(base, "GET", "/reserve", token=province["token"]))
    assert Decimal(reserve["allowances"]["NOX-2025"]["available"]) >= 5, reserve

    # the province opens an auction of 5 t from the reserve, capped at 50 % a bidder
    wait = _auctions_page(browser, "province", PROVINCE_PASSWORD, "/regulator.html")
    assert "储备可用" in _text(browser, "#reserve-line")
    fields = (("au-qty", "5.000"), ("au-reserve", "3000.00"), ("au-note", "浏览器测试拍卖"))
    for field, value in fields:
        browser.find_element("id", field).send_keys(value)
    cap = browser.find_element("id", "au-cap")
    cap.clear()
    cap.send_keys("50")
    browser.find_element("css selector", "#auction-form button[type=submit]").click()
    _confirm(browser, ["5.000 吨", "3,000.00 元/吨", "50%"])
    wait.until(lambda d: "已发起拍卖" in _text(d, "#au-form-msg"))
    auctions = _ok(api(base, "GET", "/auctions", token=province["token"]))["items"]
    auction = next(a for a in auctions if a["note"] == "浏览器测试拍卖")
    card = f'#auctions article[data-auction-id="{auction["id"]}"]'
    wait.until(lambda d: _css(d, card + '[data-status="open"]'))

    # an enterprise bids (the confirmation says what is locked), withdraws, bids again
    ewait = _auctions_page(second, "ent-441900-2", DEMO_PASSWORD, "/trade.html")
    ewait.until(lambda d: _css(d, card + " form.bid-form"))

    def bid(price, quantity, expect):
        form = second.find_element("css selector", card + " form.bid-form")
        form.find_element("name", "price").send_keys(price)
        form.find_element("name", "quantity").send_keys(quantity)
        form.find_element("css selector", "button[type=submit]").click()
        return _confirm(second, expect)

    bid("3100.00", "1.000", ["3,100.00 元/吨", "1.000 吨", "3,100.00 元"])
    ewait.until(lambda d: len(_css(d, card + " tr[data-bid-id]")) == 1)
    _click(second, card + " button[data-withdraw]")
    _confirm(second, ["撤回"])
    ewait.until(lambda d: "已撤回" in _text(d, card + " tr[data-bid-id]"))
    text = bid("3300.00", "4.000", ["13,200.00 元"])
    assert "冻结资金" in text
    ewait.until(lambda d: len(_css(d, card + " tr[data-bid-id]")) == 2)
    # a rival bids through the API
    rival = api_login(base, "ent-441900-3", DEMO_PASSWORD)
    _ok(
        api(
            base,
            "POST",
            f"/auctions/{auction['id']}/bids",
            {"price": "3250.00", "quantity": "3.000"},
            rival["token"],
        )
    )
    # sealed: the enterprise sees its own bids only
    assert rival["account_id"] not in _text(second, card)

    # the province sees every bid without reloading, closes, and sees the result
    wait.until(lambda d: len(_css(d, card + " tr[data-bid-id]")) == 3)
    assert rival["account_id"] in _text(browser, card)
    _click(browser, f'{card} button[data-close="{auction["id"]}"]')
    _confirm(browser, ["5.000 吨", "2"])
    wait.until(lambda d: _css(d, card + '[data-status="cleared"]'))
    result = _text(browser, card)
    # the cap gives each bidder 2.5 t; everyone pays the lowest accepted price
    assert "3,250.00 元/吨" in result and "5.000 吨" in result, result

    # the enterprise's page shows its result live: awarded quantity and what it paid
    ewait.until(lambda d: _css(d, card + '[data-status="cleared"]'))
    ewait.until(lambda d: "中标" in _text(d, card + " tbody"))
    won = [t for t in _texts(second, card + " tr[data-bid-id]") if "中标" in t]
    assert won and "2.500" in won[0] and "8,125.00" in won[0], won
    second.save_screenshot(str(screenshot_dir / "auction-result-enterprise-zh-CN-1440.png"))
    browser.save_screenshot(str(screenshot_dir / "auction-result-province-zh-CN-1440.png"))


def test_block_trade_withdrawn_then_accepted_live_and_marked_on_the_tape(
    service, browser, english, screenshot_dir
):
    base = service.base_url
    buyer = api_login(base, "ent-440600-3", DEMO_PASSWORD)
    reference = next(
        i["reference_price"]
        for i in _ok(api(base, "GET", "/instruments"))["items"]
        if i["symbol"] == "NOX-2025"
    )
    # the buyer watches its page, in English
    bwait = _auctions_page(english, "ent-440600-3", DEMO_PASSWORD, "/trade.html")
    assert buyer["account_id"] in _text(english, "#my-account-id")

    wait = _auctions_page(browser, "ent-440300-3", DEMO_PASSWORD, "/trade.html")

    def propose(buyer_id):
        for field, value in (("bt-buyer", buyer_id), ("bt-price", reference), ("bt-qty", "10.000")):
            el = browser.find_element("id", field)
            el.clear()
            el.send_keys(value)
        browser.find_element("css selector", "#block-form button[type=submit]").click()

    # a malformed account id is refused on the page, and the message goes once corrected
    propose("not an id")
    wait.until(lambda d: "账户编号格式不正确" in _text(d, "#bt-form-msg"))
    browser.find_element("id", "bt-buyer").send_keys("x")
    wait.until(lambda d: not d.find_element("id", "bt-form-msg").is_displayed())

    propose(buyer["account_id"])
    _confirm(browser, ["10.000 吨", buyer["account_id"]])
    wait.until(lambda d: _css(d, '#block-trades tr[data-status="pending"]'))
    first = _data(browser, "#block-trades tr[data-block-id]", "blockId")[0]
    # the buyer's page shows the proposal live, with accept and reject
    brow = f'#block-trades tr[data-block-id="{first}"]'
    bwait.until(lambda d: _css(d, brow + '[data-status="pending"] button[data-accept]'))
    assert "Pending" in _text(english, brow)
    # the seller withdraws it; the buyer sees that too
    _click(browser, f'button[data-withdraw-block="{first}"]')
    _confirm(browser, [first])
    mine = f'#block-trades tr[data-block-id="{first}"]'
    wait.until(lambda d: _css(d, mine + '[data-status="withdrawn"]'))
    bwait.until(lambda d: _css(d, brow + '[data-status="withdrawn"]'))

    propose(buyer["account_id"])
    _confirm(browser, ["10.000 吨"])
    wait.until(lambda d: _css(d, '#block-trades tr[data-status="pending"]'))
    block = _data(browser, '#block-trades tr[data-status="pending"]', "blockId")[0]
    brow = f'#block-trades tr[data-block-id="{block}"]'
    bwait.until(lambda d: _css(d, brow + " button[data-accept]"))
    _click(english, brow + " button[data-accept]")
    shot = screenshot_dir / "block-accept-confirm-en-1440.png"
    text = _confirm(english, ["To pay", "10.000 t"], shot=shot)
    # what the buyer pays: price x quantity (3,200.00 x 10 t at the demo's reference price)
    amount = Decimal(reference) * 10
    assert f"CNY {amount:,.2f}" in text and "fen" not in text, text
    bwait.until(lambda d: _css(d, brow + '[data-status="accepted"]'))
    mine = f'#block-trades tr[data-block-id="{block}"]'
    wait.until(lambda d: _css(d, mine + '[data-status="accepted"]'))
    assert "已成交" in _text(browser, mine)
    browser.save_screenshot(str(screenshot_dir / "block-trades-seller-zh-CN-1440.png"))

    # the public tape marks it as a block trade
    browser.get(base + "/market.html?symbol=NOX-2025")
    wait.until(lambda d: _css(d, '#trades-tape tr[data-kind="block"]'))
    assert "大宗" in _text(browser, '#trades-tape tr[data-kind="block"]')


def test_an_expired_instrument_reads_expired_and_its_ticket_is_disabled(service, browser):
    base = service.base_url
    province = api_login(base, "province", PROVINCE_PASSWORD)
    yesterday = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)).isoformat()
    _ok(
        api(
            base,
            "POST",
            "/instruments",
            {
                "symbol": "SO2-2019",
                "pollutant": "SO2",
                "vintage": 2019,
                "reference_price": "2500.00",
                "valid_until": yesterday,
            },
            province["token"],
        ),
        (201,),
    )

    def status():
        items = _ok(api(base, "GET", "/instruments"))["items"]
        return next(i for i in items if i["symbol"] == "SO2-2019")["status"]

    # the next command the simulated traders send expires it
    _wait(browser).until(lambda d: status() == "expired")

    login(browser, base, "ent-440200-1", DEMO_PASSWORD, "/trade.html")
    browser.get(base + "/trade.html?symbol=SO2-2019")
    wait = _wait(browser)
    wait.until(lambda d: d.find_element("id", "ticket-symbol").text == "SO2-2019")
    wait.until(lambda d: d.find_element("id", "ticket-expired").is_displayed())
    assert yesterday in _text(browser, "#ticket-expired")
    assert not browser.find_element("id", "submit-order").is_enabled()
    assert not browser.find_element("id", "quantity").is_enabled()
    assert "已到期" in _text(browser, "#submit-order")
    assert _js(browser, "return document.getElementById('market-status').dataset.status") == (
        "expired"
    )
    assert f"有效期至 {yesterday}（已到期）" == _text(browser, "#inst-validity")

    # choosing a live instrument gives the ticket back
    _js(
        browser,
        "const s = document.getElementById('instrument'); s.value = 'NOX-2025';"
        " s.dispatchEvent(new Event('change'));",
    )
    wait.until(lambda d: d.find_element("id", "ticket-symbol").text == "NOX-2025")
    wait.until(lambda d: d.find_element("id", "quantity").is_enabled())
    assert not browser.find_element("id", "ticket-expired").is_displayed()

    # the enterprise's orders and trades export as files, with a period
    browser.find_element("id", "tab-history").click()
    browser.find_element("css selector", "#orders-export").find_element(
        "xpath", "preceding-sibling::summary"
    ).click()
    today = dt.datetime.now(SHANGHAI).date()
    _js(
        browser,
        "document.getElementById('orders-export-from').value = arguments[0];"
        " document.getElementById('orders-export-to').value = arguments[1];",
        today.isoformat(),
        yesterday,
    )
    browser.find_element("id", "orders-export-csv").click()
    wait.until(lambda d: "开始日期不能晚于结束日期" in _text(d, "#orders-export-msg"))
    _js(browser, "document.getElementById('orders-export-from').value = arguments[0];", yesterday)
    browser.find_element("id", "orders-export-xlsx").click()
    wait.until(lambda d: _text(d, "#orders-export-msg") == "已开始下载。")

    # the demo's SO2-2024 is valid until the end of today
    browser.get(base + "/market.html?symbol=SO2-2024")
    wait.until(lambda d: _text(d, "#inst-validity") == f"有效期至 {today.isoformat()}")


def test_a_bureau_submits_and_corrects_a_month_and_the_province_sees_it(
    service, browser, english, screenshot_dir
):
    base = service.base_url
    province = api_login(base, "province", PROVINCE_PASSWORD)
    month = _previous_month()
    overview = _ok(api(base, "GET", f"/ledger/submissions?month={month}", token=province["token"]))
    city = next(i["city_code"] for i in overview["items"] if not i["versions"])

    login(browser, base, f"bureau-{city}", DEMO_PASSWORD, "/regulator.html")
    wait = _wait(browser)
    wait.until(_live("reg-feed-status"))
    wait.until(lambda d: d.find_element("id", "sb-submit").is_enabled())
    assert browser.find_element("id", "sb-month").get_attribute("value") == month
    assert _text(browser, "#sb-submit") == "报送本月报告"
    wait.until(lambda d: _css(d, "#sb-preview-summary"))
    assert "期末" in _text(browser, "#sb-preview")
    browser.find_element("id", "sb-submit").click()
    _confirm(browser, [month])
    wait.until(lambda d: _css(d, '#sb-versions tr[data-version="1"]'))
    assert len(_text(browser, '#sb-versions tr[data-version="1"] code')) > 10  # the SHA-256

    # a second submission is a correction: it needs a reason, then makes version 2
    wait.until(lambda d: _text(d, "#sb-submit") == "提交更正版本")
    browser.find_element("id", "sb-submit").click()
    wait.until(lambda d: "请填写更正原因" in _text(d, "#sb-submit-msg"))
    browser.find_element("id", "sb-reason").send_keys("补报一笔核定减排量")
    wait.until(lambda d: not d.find_element("id", "sb-submit-msg").is_displayed())
    browser.find_element("id", "sb-submit").click()
    _confirm(browser, ["补报一笔核定减排量"])
    wait.until(lambda d: _css(d, '#sb-versions tr[data-version="2"]'))
    assert "补报一笔核定减排量" in _text(browser, '#sb-versions tr[data-version="2"]')
    browser.execute_script("document.getElementById('submissions').scrollIntoView()")
    browser.save_screenshot(str(screenshot_dir / "submission-city-zh-CN-1440.png"))

    # the province's overview, in English: the city submitted, two versions; filters
    login(english, base, "province", PROVINCE_PASSWORD, "/regulator.html")
    pwait = _wait(english)
    row = f'#sb-overview tr[data-city="{city}"]'
    pwait.until(lambda d: _css(d, row + '[data-status="submitted"]'))
    cells = _texts(english, row + " td")
    assert cells[1].startswith("Submitted") and cells[2] == "2", cells
    assert "补报一笔核定减排量" in cells[6], cells
    assert len(_css(english, "#sb-overview tbody tr[data-city]")) == 21
    english.find_element("css selector", 'label[for="sbf-missing"]').click()
    pwait.until(lambda d: not _css(d, row))
    statuses = set(_data(english, "#sb-overview tr[data-city]", "status"))
    assert statuses <= {"missing"}, statuses
    english.execute_script("document.getElementById('submissions').scrollIntoView()")
    english.save_screenshot(str(screenshot_dir / "submissions-province-en-1440.png"))


def test_an_alert_is_acknowledged_by_the_province_and_the_bureau_sees_it_live(
    service, browser, english, screenshot_dir
):
    base = service.base_url
    allow_refusals(browser)
    province = api_login(base, "province", PROVINCE_PASSWORD)
    ent = api_login(base, "ent-441500-1", DEMO_PASSWORD)

    login(browser, base, "province", PROVINCE_PASSWORD, "/regulator.html")
    wait = _wait(browser)
    wait.until(_live("reg-feed-status"))
    # the bureau of the enterprise's city, in English: the live panels, from its own feed
    login(english, base, "bureau-441500", DEMO_PASSWORD, "/regulator.html")
    bwait = _wait(english)
    bwait.until(_live("reg-feed-status"))
    assert english.find_element("id", "live-row").is_displayed()

    # an order refused for its price raises an alert about the enterprise
    refused, _ = api(
        base,
        "POST",
        "/orders",
        {
            "client_order_id": "browser-ack-alert",
            "symbol": "NOX-2025",
            "side": "buy",
            "type": "limit",
            "price": "4000.00",
            "quantity": "1.000",
            "time_in_force": "GTC",
        },
        ent["token"],
    )
    assert refused == 409
    alerts = _ok(api(base, "GET", "/surveillance/alerts?status=open", token=province["token"]))
    alert = next(a for a in alerts["items"] if a["account_id"] == ent["account_id"])
    row = f'#alerts tr[data-alert-key="{alert["seq"]}|{alert["ordinal"]}"]'
    # both pages show it live
    wait.until(lambda d: _css(d, row + '[data-status="open"] button[data-ack]'))
    bwait.until(lambda d: _css(d, row + '[data-status="open"]'))

    _click(browser, row + " button[data-ack]")
    wait.until(lambda d: _css(d, "#ack-dialog[open]"))
    browser.find_element("id", "ack-submit").click()
    wait.until(lambda d: "请填写处理意见" in _text(d, "#ack-msg"))
    browser.find_element("id", "ack-note").send_keys("已电话核实，误操作")
    wait.until(lambda d: not d.find_element("id", "ack-msg").is_displayed())
    browser.save_screenshot(str(screenshot_dir / "alert-ack-province-zh-CN-1440.png"))
    browser.find_element("id", "ack-submit").click()
    wait.until(lambda d: not _css(d, "#ack-dialog[open]"))
    wait.until(lambda d: _css(d, row + '[data-status="acknowledged"]'))
    assert "已电话核实" in _text(browser, row)

    # the bureau's page updates from the feed's alert_ack, without a reload
    bwait.until(lambda d: _css(d, row + '[data-status="acknowledged"]'))
    assert "已电话核实" in _text(english, row) and "Acknowledged" in _text(english, row)
    english.save_screenshot(str(screenshot_dir / "alerts-city-en-1440.png"))

    # filters: open alerts only, then acknowledged ones
    _js(
        english,
        "const s = document.getElementById('af-status'); s.value = 'open';"
        " s.dispatchEvent(new Event('change', {bubbles: true}));",
    )
    bwait.until(lambda d: not _css(d, row))
    _js(
        english,
        "const s = document.getElementById('af-status'); s.value = 'acknowledged';"
        " s.dispatchEvent(new Event('change', {bubbles: true}));",
    )
    bwait.until(lambda d: _css(d, row))
    assert set(_data(english, "#alerts tr[data-status]", "status")) == {"acknowledged"}

    # exports: the filtered alerts and the ledger, as files
    english.find_element("css selector", "#alerts-export").find_element(
        "xpath", "preceding-sibling::summary"
    ).click()
    english.find_element("id", "alerts-export-csv").click()
    bwait.until(lambda d: _text(d, "#alerts-export-msg") == "Download started.")
    english.find_element("css selector", "#ledger-export").find_element(
        "xpath", "preceding-sibling::summary"
    ).click()
    english.find_element("id", "ledger-export-xlsx").click()
    bwait.until(lambda d: _text(d, "#ledger-export-msg") == "Download started.")


def test_the_demo_reserve_holds_quota_and_has_an_auction_open(service):
    """The province can run an auction from the demo's pages at once: the reserve bought
    quota from the simulated traders, and one auction of it is already open to bid on."""
    province = api_login(service.base_url, "province", PROVINCE_PASSWORD)["token"]
    status, reserve = api(service.base_url, "GET", "/reserve", token=province)
    assert status == 200, reserve
    held = reserve["allowances"]["NOX-2025"]
    assert Decimal(held["available"]) > 0
    status, auctions = api(service.base_url, "GET", "/auctions", token=province)
    demo = [a for a in auctions["items"] if a["note"] == "2025 年度储备排污权拍卖（演示）"]
    assert len(demo) == 1 and demo[0]["status"] == "open", auctions
    assert demo[0]["quantity"] == "10.000"
    # what is offered stays locked in the reserve while the auction is open
    assert Decimal(held["locked"]) >= Decimal("10.000")
