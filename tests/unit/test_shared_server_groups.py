"""The suite's scheduling under pytest-xdist (tests/conftest.py): tests that share a
session-wide server go whole to one worker."""

from tests.conftest import shared_server_group


def test_each_backends_end_to_end_tests_form_one_group_whatever_their_other_parameters():
    assert shared_server_group("tests/e2e/test_orders_api.py::test_x[sqlite]") == "e2e-sqlite"
    assert (
        shared_server_group("tests/e2e/test_roles_api.py::test_y[postgresql-POST /accounts-as-x]")
        == "e2e-postgresql"
    )
    assert shared_server_group("tests/e2e/test_limits_api.py::test_z[abc-sqlite]") == "e2e-sqlite"


def test_browser_tests_form_one_group_and_everything_else_goes_singly():
    assert shared_server_group("tests/browser/test_pages.py::test_market_page") == "browser"
    assert shared_server_group("tests/e2e/test_openapi.py::test_api_md_table_parses") is None
    assert shared_server_group("tests/unit/core/test_feeds.py::test_a[sqlite]") is None
    assert shared_server_group("tests/integration/test_cli.py::test_b[postgresql]") is None
    # a parameter that merely contains a backend's name is not that backend
    assert shared_server_group("tests/e2e/test_x.py::test_c[sqlite3-file]") is None
