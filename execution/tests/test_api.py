"""/api/v1/positions/, /orders/, /fills/: lists with filters, ordering and pagination, details, and
closing a position; by role; a constant number of queries whatever the rows."""

from decimal import Decimal

import pytest

from execution.models import Order, Position
from marketdata.models import PriceBar
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage

pytestmark = pytest.mark.django_db


def test_positions_are_the_open_ones_with_their_marks_unless_flat_ones_are_asked_for(api, book):
    version = book(positions=2)
    last = PriceBar.objects.filter(instrument__symbol="AAA").latest("ts")

    listed = api.get("/api/v1/positions/").json()
    with_flat = api.get("/api/v1/positions/?include_flat=true").json()

    assert listed["count"] == 2
    aaa, other = listed["results"]
    assert (aaa["strategy_version"], aaa["strategy"], aaa["symbol"], aaa["side"]) == (
        version.pk,
        "book1 v1",
        "AAA",
        "long",
    )
    assert (aaa["qty"], aaa["avg_price"], aaa["mark"]) == (
        "1.000000000",
        "100.000000000000000000",
        f"{last.close:.9f}",
    )
    assert aaa["mark_ts"] == "2024-12-31T00:00:00Z"
    assert Decimal(aaa["market_value"]) == last.close
    assert Decimal(aaa["unrealized_pnl"]) == last.close - 100
    assert (other["symbol"], other["qty"], other["mark"], other["unrealized_pnl"]) == (
        "S001",
        "2.000000000",
        None,
        None,
    )
    assert [p["symbol"] for p in with_flat["results"]] == ["AAA", "S001", "ZZZ"]
    assert with_flat["results"][2]["side"] == "flat"


def test_positions_filter_by_version_symbol_side_and_order_by_quantity(api, book):
    first, second = book(positions=2), book(positions=3)

    def symbols(query: str) -> list[tuple[int, str]]:
        return [
            (p["strategy_version"], p["symbol"])
            for p in api.get(f"/api/v1/positions/?{query}").json()["results"]
        ]

    assert symbols(f"strategy_version={second.pk}") == [
        (second.pk, "AAA"),
        (second.pk, "S001"),
        (second.pk, "S002"),
    ]
    assert symbols("symbol=aaa") == [(first.pk, "AAA"), (second.pk, "AAA")]
    assert symbols("side=short") == []
    assert symbols("ordering=-qty&page_size=2") == [(second.pk, "S002"), (first.pk, "S001")]
    assert api.get("/api/v1/positions/?strategy_version=0").status_code == 400
    assert api.get("/api/v1/positions/?page=9").json()["error"] == "not_found"


def test_a_position_order_and_fill_in_detail(api, book):
    version = book(positions=1)
    position = Position.objects.get(strategy_version=version, symbol="AAA")
    order = Order.objects.get(strategy_version=version)
    fill = order.fills.get()

    got = api.get(f"/api/v1/positions/{position.pk}/").json()
    got_order = api.get(f"/api/v1/orders/{order.pk}/").json()
    got_fill = api.get(f"/api/v1/fills/{fill.pk}/").json()

    assert (got["id"], got["symbol"], got["close_requested_at"]) == (position.pk, "AAA", None)
    assert (got_order["client_order_id"], got_order["status"], got_order["filled_qty"]) == (
        "book1-AAA",
        "filled",
        "1.000000000",
    )
    assert (got_fill["order"], got_fill["client_order_id"], got_fill["symbol"], got_fill["side"]) == (
        order.pk,
        "book1-AAA",
        "AAA",
        "buy",
    )
    assert (got_fill["strategy"], got_fill["ts"]) == ("book1 v1", "2024-12-30T00:00:00Z")
    for url in ("/api/v1/positions/999/", "/api/v1/orders/abc/", "/api/v1/fills/-1/"):
        response = api.get(url)
        assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_orders_and_fills_filter_by_status_symbol_version_and_time(api, book):
    first, second = book(positions=2), book(positions=1)
    Order.objects.filter(client_order_id="book1-S001").update(status="accepted")

    def ids(url: str) -> list[str]:
        return [o["client_order_id"] for o in api.get(url).json()["results"]]

    assert ids("/api/v1/orders/?open=true") == ["book1-S001"]
    assert ids("/api/v1/orders/?status=filled&ordering=id") == ["book1-AAA", "book2-AAA"]
    assert ids(f"/api/v1/orders/?strategy_version={second.pk}") == ["book2-AAA"]
    assert ids("/api/v1/orders/?symbol=S001&side=buy") == ["book1-S001"]
    assert ids("/api/v1/orders/?created_after=2999-01-01T00:00:00Z") == []
    assert ids(f"/api/v1/fills/?strategy_version={first.pk}&ordering=id") == ["book1-AAA", "book1-S001"]
    assert ids("/api/v1/fills/?before=2024-12-30T00:00:00Z") == []
    assert api.get("/api/v1/orders/?status=lost").json()["error"] == "invalid_input"


def test_closing_a_paper_position_leaves_it_to_the_session_and_is_audited(api, book, user):
    version = book(positions=1)
    position = Position.objects.get(strategy_version=version, symbol="AAA")

    response = api.post(f"/api/v1/positions/{position.pk}/close/")

    assert response.status_code == 200
    body = response.json()
    assert (body["outcome"], body["order"], body["position"]["close_requested_by"]) == (
        "requested",
        None,
        "alice",
    )
    position.refresh_from_db()
    assert position.close_requested_by == user
    assert AuditRecord.objects.filter(action="position.close_request", actor=user).count() == 1
    again = api.post(f"/api/v1/positions/{position.pk}/close/")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")


def test_a_close_refused_by_the_risk_manager_is_a_409_with_its_reasons(api, book, people):
    version = book(positions=1)
    kill_switch_engage(reason="drill", by=people["rita"])
    position = Position.objects.get(strategy_version=version, symbol="AAA")

    response = api.post(f"/api/v1/positions/{position.pk}/close/")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert [r["code"] for r in body["details"]["reasons"]] == ["trading_halted"]


def test_a_viewer_reads_positions_but_cannot_close_one_and_nobody_anonymous_reads(as_role, anon, book):
    version = book(positions=1)
    position = Position.objects.get(strategy_version=version, symbol="AAA")
    viewer = as_role("viewer")

    assert viewer.get("/api/v1/positions/").status_code == 200
    refused = viewer.post(f"/api/v1/positions/{position.pk}/close/")
    assert (refused.status_code, refused.json()["message"]) == (403, "this needs the role operator")
    assert anon.get("/api/v1/positions/").status_code == 401
    assert anon.post(f"/api/v1/positions/{position.pk}/close/").status_code == 401
    position.refresh_from_db()
    assert position.close_requested_at is None


@pytest.mark.parametrize("url", ["/api/v1/positions/", "/api/v1/orders/", "/api/v1/fills/"])
def test_the_lists_take_the_same_queries_for_one_row_as_for_many(api, book, django_assert_num_queries, url):
    book(positions=1)
    with django_assert_num_queries(QUERIES[url]):
        one = api.get(url).json()
    book(positions=30)
    with django_assert_num_queries(QUERIES[url]):
        many = api.get(url).json()

    assert (one["count"], many["count"]) == (1, 31)


# the user's roles, the count, the page (positions with their marks; orders, then their legs)
QUERIES = {"/api/v1/positions/": 3, "/api/v1/orders/": 4, "/api/v1/fills/": 3}
