"""Option contracts as instruments: ensured from an OCC symbol, stored exactly, listed in the admin."""

from datetime import date
from decimal import Decimal

import pytest

from marketdata.core.errors import Conflict, InvalidInput
from marketdata.models import Instrument, OptionContract
from marketdata.services import instrument_ensure, option_contract_ensure

pytestmark = pytest.mark.django_db


def test_ensuring_a_symbol_creates_the_option_instrument_and_its_underlying():
    contract = option_contract_ensure(symbol="AAPL240119P00187500")

    stored = OptionContract.objects.select_related("instrument", "underlying").get()
    assert stored == contract
    assert (stored.instrument.symbol, stored.instrument.asset_class, stored.instrument.exchange) == (
        "AAPL240119P00187500",
        "option",
        "OPRA",
    )
    assert stored.instrument.name == "AAPL 2024-01-19 187.5 put"
    assert (stored.underlying.symbol, stored.underlying.asset_class) == ("AAPL", "equity")
    assert (stored.expiry, stored.strike, stored.right, stored.multiplier) == (
        date(2024, 1, 19),
        Decimal("187.500"),
        "put",
        100,
    )


def test_ensuring_twice_gives_the_same_contract_and_reuses_the_underlying():
    underlying = instrument_ensure(symbol="SPY", defaults={"asset_class": "etf"})
    first = option_contract_ensure(symbol="SPY241220C00600000")

    again = option_contract_ensure(symbol="spy241220c00600000")
    put = option_contract_ensure(symbol="SPY   241220P00600000")

    assert again.pk == first.pk
    assert (first.underlying_id, put.underlying_id) == (underlying.pk, underlying.pk)
    assert list(Instrument.objects.values_list("symbol", "asset_class")) == [
        ("SPY", "etf"),
        ("SPY241220C00600000", "option"),
        ("SPY241220P00600000", "option"),
    ]
    assert list(underlying.option_contracts.values_list("right", flat=True)) == ["call", "put"]


def test_a_strike_in_thousandths_is_stored_exactly():
    contract = option_contract_ensure(symbol="SPXW251231P05999125")

    contract.refresh_from_db()
    assert contract.strike == Decimal("5999.125")


def test_a_malformed_symbol_stores_nothing():
    with pytest.raises(InvalidInput) as caught:
        option_contract_ensure(symbol="AAPL240119X00190000")

    assert (
        caught.value.message == "option symbol 'AAPL240119X00190000': right 'X' must be C (call) or P (put)"
    )
    assert Instrument.objects.count() == 0


def test_a_symbol_held_by_another_kind_of_instrument_is_a_conflict():
    instrument_ensure(symbol="AAPL240119C00190000")

    with pytest.raises(Conflict) as caught:
        option_contract_ensure(symbol="AAPL240119C00190000")

    assert caught.value.message == "instrument AAPL240119C00190000 exists as equity, not as an option"
    assert OptionContract.objects.count() == 0


def test_the_admin_lists_option_contracts(admin_client):
    option_contract_ensure(symbol="AAPL240119C00190000")
    option_contract_ensure(symbol="MSFT240216P00400000")

    page = admin_client.get("/admin/marketdata/optioncontract/?right__exact=put")

    assert page.status_code == 200
    assert list(page.context["cl"].result_list.values_list("instrument__symbol", flat=True)) == [
        "MSFT240216P00400000"
    ]
