"""The password rule: 12 characters or more, not among the 10,000 most common."""

from __future__ import annotations

import pytest

from exchange.passwords import MIN_LENGTH, common_passwords, weakness


def test_the_shipped_list_holds_ten_thousand_common_passwords():
    listed = common_passwords()
    assert len(listed) == 10_000
    assert {"password", "123456", "qwerty123456", "1q2w3e4r5t6y"} <= listed


@pytest.mark.parametrize("password", ["password", "12345678", "a" * (MIN_LENGTH - 1)])
def test_a_password_shorter_than_twelve_characters_is_weak(password):
    assert "12" in weakness(password)


@pytest.mark.parametrize("password", ["qwerty123456", "QWERTY123456", "123456123456"])
def test_a_common_password_is_weak_whatever_its_case(password):
    assert weakness(password) is not None


@pytest.mark.parametrize("password", ["long-enough-pw", "绿水青山就是金山银山排污权"])
def test_a_long_uncommon_password_is_accepted(password):
    assert weakness(password) is None
