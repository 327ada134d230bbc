"""Option orders placed by hand through POST /api/v1/orders/ and the place_order tool: checked on the
latest chain by the real risk manager, then sent through the OMS; refused with its reasons (409,
audited); malformed legs refused with the core's message (400); by role, as orders of shares are."""

from decimal import Decimal

import pytest

from execution.models import Order
from execution.tests.test_oms_options import EXPIRY, condor, version  # noqa: F401  (fixture)
from quantsite.models import AuditRecord

pytestmark = pytest.mark.django_db

PUT_83, CALL_95 = f"AAA{EXPIRY}P00083000", f"AAA{EXPIRY}C00095000"


def condor_body(version, wing: int = 1, **fields) -> dict:  # noqa: F811
    spec = condor(wing)
    legs = [{"symbol": leg.symbol, "side": str(leg.side), "ratio": leg.ratio} for leg in spec.legs]
    return {
        "strategy_version": version.pk,
        "legs": legs,
        "qty": "1",
        "order_type": "limit",
        "limit_price": "-0.20",
        **fields,
    }


def place(client, body: dict):
    return client.post("/api/v1/orders/", body, format="json")


def test_an_iron_condor_posted_by_an_operator_is_checked_on_the_chain_then_sent(
    as_role,
    version,  # noqa: F811
    fake,
    aaa,
):
    # when
    answer = place(as_role("operator"), condor_body(version))

    # then: the real risk manager measured it (max loss 100 - 20 = 80, within the policy) and it went
    assert answer.status_code == 201
    body = answer.json()
    order = body["order"]
    assert (body["outcome"], order["status"], order["asset_class"], order["symbol"]) == (
        "sent",
        "accepted",
        "option",
        "AAA",
    )
    assert (order["qty"], order["limit_price"], order["reduce_only"], order["reason"]) == (
        "1.000000000",
        "-0.200000000",
        False,
        "placed by hand",
    )
    assert [(leg["symbol"], leg["side"], leg["ratio"]) for leg in order["legs"]] == [
        (f"AAA{EXPIRY}P00082000", "buy", 1),
        (PUT_83, "sell", 1),
        (CALL_95, "sell", 1),
        (f"AAA{EXPIRY}C00096000", "buy", 1),
    ]
    posted = fake.posted[0]
    assert (posted["order_class"], posted["qty"], posted["limit_price"]) == ("mleg", "1", "-0.200000000")
    created = AuditRecord.objects.get(action="order.create")
    assert created.actor.username == "the-operator"


def test_the_same_key_never_places_twice(as_role, version, fake, aaa):  # noqa: F811
    operator = as_role("operator")

    first = place(operator, condor_body(version, key="condor-1"))
    again = place(operator, condor_body(version, key="condor-1"))

    assert first.json()["order"]["id"] == again.json()["order"]["id"]
    assert Order.objects.count() == 1
    assert len(fake.posted) == 1


def test_a_condor_beyond_the_risk_per_trade_is_refused_409_with_the_reasons_and_audited(
    as_role,
    version,  # noqa: F811
    fake,
    aaa,
):
    answer = place(as_role("operator"), condor_body(version, wing=5))

    assert answer.status_code == 409
    body = answer.json()
    assert body["error"] == "conflict"
    assert body["message"].startswith(
        "the risk manager refuses the order: The order risks 480.00 (its max loss at expiry at the net "
        "price -0.2)"
    )
    assert [r["code"] for r in body["details"]["reasons"]] == ["risk_per_trade"]
    assert Order.objects.count() == 0
    assert fake.posted == []
    record = AuditRecord.objects.get(action="order.refused")
    assert (record.actor.username, record.data["codes"]) == ("the-operator", ["risk_per_trade"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"legs": []},
            "an option order has 1 to 4 legs, not 0",
        ),
        (
            {"legs": [{"symbol": f"AAA{EXPIRY}P{n:08d}", "side": "buy"} for n in range(80000, 85000, 1000)]},
            "an option order has 1 to 4 legs, not 5",
        ),
        (
            {"legs": [{"symbol": PUT_83, "side": "sell"}, {"symbol": "BBB250221C00095000", "side": "buy"}]},
            "an option order's legs must share one underlying, not AAA, BBB",
        ),
        (
            {"legs": [{"symbol": PUT_83, "side": "sell"}, {"symbol": PUT_83, "side": "buy"}]},
            f"an option order names a contract twice: {PUT_83}, {PUT_83}",
        ),
        (
            {"legs": [{"symbol": f"AAA{EXPIRY}X00083000", "side": "sell"}]},
            f"option symbol 'AAA{EXPIRY}X00083000': right 'X' must be C (call) or P (put)",
        ),
        (
            {"qty": "1.5"},
            "an option order's quantity must be a whole number of units above 0, not Decimal('1.500000000')",
        ),
        ({"order_type": "stop"}, "an option order is market or limit, not stop"),
        (
            {"order_type": "market"},
            "a limit option order needs a limit price, and only a limit order has one",
        ),
        (
            {"symbol": "AAA"},
            "an option order names its contracts and their sides in its legs: no symbol, side or stop_price",
        ),
    ],
)
def test_a_malformed_option_order_is_refused_400_with_the_reason_and_nothing_is_stored(
    as_role,
    version,  # noqa: F811
    fake,
    change,
    message,
):
    answer = place(as_role("operator"), {**condor_body(version), **change})

    assert (answer.status_code, answer.json()["error"], answer.json()["message"]) == (
        400,
        "invalid_input",
        message,
    )
    assert Order.objects.count() == 0
    assert fake.posted == []


def test_a_leg_without_its_side_is_a_field_error(as_role, version, fake):  # noqa: F811
    body = condor_body(version)
    del body["legs"][1]["side"]

    answer = place(as_role("operator"), body)

    assert answer.status_code == 400
    assert answer.json()["details"] == {"legs": {"1": {"side": ["This field is required."]}}}


def test_an_order_of_shares_posted_waits_for_the_paper_session(as_role, book):
    shares = book()

    answer = place(
        as_role("operator"), {"strategy_version": shares.pk, "symbol": "aaa", "side": "buy", "qty": "1"}
    )

    assert answer.status_code == 201
    stored = Order.objects.get(reason="placed by hand")
    assert answer.json()["outcome"] == "requested"
    assert answer.json()["order"]["id"] == stored.pk
    assert (stored.status, stored.asset_class, stored.symbol, stored.side, stored.qty) == (
        "new",
        "equity",
        "AAA",
        "buy",
        Decimal(1),
    )


def test_an_order_names_shares_or_legs(as_role, book):
    answer = place(as_role("operator"), {"strategy_version": book().pk, "qty": "1"})

    assert (answer.status_code, answer.json()["message"]) == (
        400,
        "an order names a symbol and a side (shares), or its legs (options)",
    )


def test_placing_needs_credentials_and_the_operator_role(anon, as_role, version, fake):  # noqa: F811
    unauthenticated = place(anon, condor_body(version))
    viewer = place(as_role("viewer"), condor_body(version))

    assert (unauthenticated.status_code, unauthenticated.json()["error"]) == (401, "not_authenticated")
    assert (viewer.status_code, viewer.json()["message"]) == (403, "this needs the role operator")
    assert Order.objects.count() == 0


# --- the place_order tool --------------------------------------------------------------------------------


def tool_order(version, wing: int = 1, **fields) -> dict:  # noqa: F811
    body = condor_body(version, wing, **fields)
    return {k: v for k, v in body.items() if k != "key"}


def test_an_agent_places_an_iron_condor_checked_and_sent_as_a_persons(
    as_role,
    invoke,
    version,  # noqa: F811
    fake,
    aaa,
    memory,
):
    answer = invoke(as_role("operator"), "place_order", order=tool_order(version), key="condor-1")

    assert answer.status_code == 200
    result = answer.json()["result"]
    stored = Order.objects.get()
    assert (result["outcome"], result["order"]["id"], stored.asset_class, stored.reason) == (
        "sent",
        stored.pk,
        "option",
        "agent order",
    )
    assert [leg.symbol for leg in stored.legs.all()][1:3] == [PUT_83, CALL_95]
    assert fake.posted[0]["order_class"] == "mleg"


def test_an_agents_condor_beyond_the_risk_per_trade_is_refused_409(as_role, invoke, version, fake, aaa):  # noqa: F811
    answer = invoke(as_role("operator"), "place_order", order=tool_order(version, wing=5))

    assert answer.status_code == 409
    assert [r["code"] for r in answer.json()["details"]["reasons"]] == ["risk_per_trade"]
    assert Order.objects.count() == 0
    assert AuditRecord.objects.filter(action="order.refused").count() == 1


def test_an_agents_malformed_legs_are_refused_400_and_a_viewer_may_not_place(as_role, invoke, version, fake):  # noqa: F811
    two_underlyings = {
        **tool_order(version),
        "legs": [{"symbol": PUT_83, "side": "sell"}, {"symbol": "BBB250221C00095000", "side": "buy"}],
    }

    malformed = invoke(as_role("operator"), "place_order", order=two_underlyings)
    no_ratio = invoke(
        as_role("operator", "o2"),
        "place_order",
        order={**tool_order(version), "legs": [{"symbol": PUT_83, "side": "sell", "ratio": 0}]},
    )
    viewer = invoke(as_role("viewer"), "place_order", order=tool_order(version))

    assert (malformed.status_code, malformed.json()["message"]) == (
        400,
        "an option order's legs must share one underlying, not AAA, BBB",
    )
    assert no_ratio.status_code == 400
    assert "ratio" in no_ratio.json()["message"]
    assert (viewer.status_code, viewer.json()["error"]) == (403, "forbidden")
    assert Order.objects.count() == 0


def test_the_risk_agents_check_measures_an_option_order_on_the_chain_and_places_nothing(
    as_role,
    invoke,
    version,  # noqa: F811
    fake,
    aaa,
):
    within = invoke(as_role("viewer"), "check_position_size", order=tool_order(version))
    beyond = invoke(as_role("viewer", "v2"), "check_position_size", order=tool_order(version, wing=5))

    assert within.json()["result"] == {"approved": True, "reasons": []}
    assert [r["code"] for r in beyond.json()["result"]["reasons"]] == ["risk_per_trade"]
    assert Order.objects.count() == 0
    assert fake.posted == []
