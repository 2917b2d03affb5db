import pytest

from exchange.core.units import (
    UnitError,
    cny,
    iso_time,
    parse_cny,
    parse_tonnes,
    round_half_up_div,
    tonnes,
)


@pytest.mark.parametrize(
    ("text", "kg"),
    [("12.5", 12_500), ("12.500", 12_500), ("0.001", 1), ("7", 7_000), ("7.", 7_000)],
)
def test_tonnes_parse_to_whole_kilograms(text, kg):
    assert parse_tonnes(text) == kg


@pytest.mark.parametrize(
    "text", ["1.0001", "-1", "+1", "1e3", "NaN", "inf", "", ".5", "1,5", " 1", "1 ", "0x10"]
)
def test_tonnes_refuse_anything_but_a_plain_decimal(text):
    with pytest.raises(UnitError):
        parse_tonnes(text)


def test_prices_take_at_most_two_decimals():
    assert parse_cny("3456.78") == 345_678
    assert parse_cny("3456.7") == 345_670
    with pytest.raises(UnitError):
        parse_cny("3456.789")


def test_a_json_number_is_not_a_decimal_string():
    with pytest.raises(UnitError):
        parse_cny(3456.78)  # type: ignore[arg-type]


def test_responses_print_the_full_scale():
    assert tonnes(12_500) == "12.500"
    assert tonnes(1) == "0.001"
    assert cny(345_670) == "3456.70"
    assert cny(-5) == "-0.05"
    assert cny(None) is None


def test_round_half_up_division():
    assert round_half_up_div(5, 10) == 1
    assert round_half_up_div(4, 10) == 0
    assert round_half_up_div(15, 10) == 2
    assert round_half_up_div(25, 10) == 3


def test_times_are_utc_iso_with_microseconds():
    assert iso_time(0) == "1970-01-01T00:00:00.000000Z"
    assert iso_time(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z"


@pytest.mark.parametrize("text", ["１２", "١٢", "12\n", "1.5\n", "١.٥", "12\r", "₁₂"])
def test_only_ascii_digits_make_a_decimal(text):
    # str.isdigit and re's \d accept other scripts' digits, and `$` matches before a final
    # newline: "١٢" was a deposit of 12.00
    with pytest.raises(UnitError):
        parse_cny(text, "amount")
    with pytest.raises(UnitError):
        parse_tonnes(text)
