"""Option contracts: OCC symbols both ways, their errors, and the XNYS expiry calendar."""

from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketdata.core.errors import InvalidInput
from marketdata.core.options import (
    OptionContract,
    Right,
    is_monthly_expiry,
    monthly_expiries,
    occ_symbols,
    occ_terms,
    weekly_expiries,
)


@pytest.mark.parametrize(
    ("symbol", "underlying", "expiry", "strike", "right"),
    [
        ("AAPL240119C00190000", "AAPL", date(2024, 1, 19), Decimal(190), Right.CALL),
        ("SPY241220P00587500", "SPY", date(2024, 12, 20), Decimal("587.5"), Right.PUT),
        ("F250117C00012500", "F", date(2025, 1, 17), Decimal("12.5"), Right.CALL),
        ("SPXW  251231P05999125", "SPXW", date(2025, 12, 31), Decimal("5999.125"), Right.PUT),
        ("brkb260116c00500000", "BRKB", date(2026, 1, 16), Decimal(500), Right.CALL),
    ],
)
def test_parse_reads_every_field_of_an_occ_symbol(symbol, underlying, expiry, strike, right):
    contract = OptionContract.parse(symbol)

    assert contract == OptionContract(underlying, expiry, strike, right)
    assert (contract.underlying, contract.expiry, contract.strike, contract.right, contract.multiplier) == (
        underlying,
        expiry,
        strike,
        right,
        100,
    )
    assert contract.symbol == symbol.upper().replace(" ", "")


def test_symbol_writes_the_strike_in_thousandths_on_eight_digits():
    contract = OptionContract("AAPL", date(2024, 1, 19), "190", "call")

    assert contract.symbol == "AAPL240119C00190000"
    assert OptionContract("X", date(2030, 6, 21), Decimal("0.5"), Right.PUT).symbol == "X300621P00000500"
    assert OptionContract("ABCDEF", date(2024, 1, 19), Decimal("99999.999"), "P").symbol == (
        "ABCDEF240119P99999999"
    )


@given(
    underlying=st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True),
    expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    thousandths=st.integers(min_value=1, max_value=99_999_999),
    right=st.sampled_from(Right),
)
def test_format_then_parse_gives_back_the_contract(underlying, expiry, thousandths, right):
    contract = OptionContract(underlying, expiry, Decimal(thousandths) / 1000, right)

    parsed = OptionContract.parse(contract.symbol)

    assert parsed == contract
    assert parsed.symbol == contract.symbol
    assert len(contract.symbol) == len(underlying) + 15


@given(
    underlying=st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True),
    terms=st.lists(
        st.tuples(
            st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
            st.integers(min_value=1, max_value=99_999_999),
            st.sampled_from(Right),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_a_whole_chain_is_written_and_read_as_contracts_are_one_by_one(underlying, terms):
    contracts = [OptionContract(underlying, e, Decimal(k) / 1000, r) for e, k, r in terms]
    expiry = np.array([e for e, _, _ in terms], dtype="datetime64[D]")
    thousandths = np.array([k for _, k, _ in terms], dtype=np.int64)
    call = np.array([r is Right.CALL for _, _, r in terms])

    symbols = occ_symbols(underlying, expiry, thousandths, call)
    read = occ_terms(pd.Series(symbols))

    assert list(symbols) == [c.symbol for c in contracts]
    assert read["underlying"].tolist() == [c.underlying for c in contracts]
    assert [d.date() for d in read["expiry"]] == [c.expiry for c in contracts]
    assert read["strike"].tolist() == [float(c.strike) for c in contracts]
    assert read["right"].tolist() == [c.right.value for c in contracts]


def test_a_malformed_symbol_among_many_is_refused_as_parse_refuses_it():
    with pytest.raises(InvalidInput, match="expiry '240230' is not a date"):
        occ_terms(pd.Series(["AAPL240119C00190000", "AAPL240230C00190000"]))
    assert occ_terms(pd.Series(["SPXW  251231P05999125"]))["strike"].tolist() == [5999.125]


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("", "empty option symbol; an OCC symbol looks like AAPL240119C00190000"),
        (
            "240119C00190000",
            "option symbol '240119C00190000' is too short: an OCC symbol is a root, YYMMDD, C or P "
            "and an 8-digit strike in thousandths, like AAPL240119C00190000",
        ),
        (
            "GOOGLEX240119C00190000",
            "option symbol 'GOOGLEX240119C00190000': root 'GOOGLEX' must be 1 to 6 letters or digits "
            "before the YYMMDD expiry",
        ),
        (
            "BRK.B240119C00190000",
            "option symbol 'BRK.B240119C00190000': root 'BRK.B' must be 1 to 6 letters or digits "
            "before the YYMMDD expiry",
        ),
        (
            "AAPL241319C00190000",
            "option symbol 'AAPL241319C00190000': expiry '241319' is not a date (YYMMDD)",
        ),
        (
            "AAPL240230C00190000",
            "option symbol 'AAPL240230C00190000': expiry '240230' is not a date (YYMMDD)",
        ),
        ("AAPL240119X00190000", "option symbol 'AAPL240119X00190000': right 'X' must be C (call) or P (put)"),
        (
            "AAPL240119C0019000O",
            "option symbol 'AAPL240119C0019000O': strike '0019000O' must be 8 digits of thousandths "
            "of a dollar, above zero",
        ),
        (
            "AAPL240119C00000000",
            "option symbol 'AAPL240119C00000000': strike '00000000' must be 8 digits of thousandths "
            "of a dollar, above zero",
        ),
    ],
)
def test_parse_of_a_malformed_symbol_says_what_is_wrong(symbol, message):
    with pytest.raises(InvalidInput) as caught:
        OptionContract.parse(symbol)

    assert caught.value.message == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strike": 190.5}, "option strike 190.5 must be a Decimal, int or str: a float is not exact"),
        (
            {"strike": "190.0005"},
            "option strike '190.0005' has more than 3 decimals: OCC strikes are in thousandths",
        ),
        ({"strike": "100000"}, "option strike '100000' is above 99999.999, the largest an OCC symbol holds"),
        ({"strike": "-5"}, "option strike '-5' must be positive"),
        ({"strike": "abc"}, "option strike 'abc' is not a number"),
        ({"right": "straddle"}, "unknown option right 'straddle'; use call or put (C or P)"),
        ({"multiplier": 0}, "option multiplier 0 must be a positive whole number"),
        ({"underlying": ""}, "option underlying '' must be 1 to 6 letters or digits (an OCC root)"),
        (
            {"expiry": date(2100, 1, 15)},
            "option expiry datetime.date(2100, 1, 15) must be a date in 2000-2099 (OCC writes YYMMDD)",
        ),
        (
            {"expiry": "2024-01-19"},
            "option expiry '2024-01-19' must be a date in 2000-2099 (OCC writes YYMMDD)",
        ),
    ],
)
def test_contract_with_bad_terms_says_which(fields, message):
    terms = {
        "underlying": "AAPL",
        "expiry": date(2024, 1, 19),
        "strike": Decimal(190),
        "right": "call",
        **fields,
    }

    with pytest.raises(InvalidInput) as caught:
        OptionContract(**terms)

    assert caught.value.message == message


def test_contract_terms_are_normalised():
    contract = OptionContract(" aapl ", datetime(2024, 1, 19, 15, 30), Decimal("187.500"), "P", multiplier=10)

    assert contract == OptionContract("AAPL", date(2024, 1, 19), Decimal("187.5"), Right.PUT, 10)
    assert (str(contract.strike), type(contract.expiry)) == ("187.5", date)


def test_monthly_expiries_are_third_fridays_or_the_session_before_a_holiday():
    # 2022-04-15 was Good Friday: April's expiry moved to Thursday the 14th.
    days = [
        (1, 21),
        (2, 18),
        (3, 18),
        (4, 14),
        (5, 20),
        (6, 17),
        (7, 15),
        (8, 19),
        (9, 16),
        (10, 21),
        (11, 18),
        (12, 16),
    ]
    assert monthly_expiries(date(2022, 1, 1), date(2022, 12, 31)) == [date(2022, m, d) for m, d in days]
    # Juneteenth fell on the third Friday of June 2026.
    assert monthly_expiries(date(2026, 6, 1), date(2026, 6, 30)) == [date(2026, 6, 18)]


def test_weekly_expiries_are_each_weeks_friday_or_the_session_before():
    # Christmas 2020 and New Year's Day 2021 were Fridays: those weeks expire on Thursday.
    assert weekly_expiries(date(2020, 12, 14), date(2021, 1, 15)) == [
        date(2020, 12, 18),
        date(2020, 12, 24),
        date(2020, 12, 31),
        date(2021, 1, 8),
        date(2021, 1, 15),
    ]


def test_weekly_expiries_keep_to_the_range_asked_for():
    # the range starts on a Saturday and ends on the Wednesday before an expiry
    assert weekly_expiries(date(2024, 3, 2), date(2024, 3, 13)) == [date(2024, 3, 8)]
    assert weekly_expiries(date(2024, 3, 15), date(2024, 3, 15)) == [date(2024, 3, 15)]
    assert weekly_expiries(date(2024, 3, 16), date(2024, 3, 17)) == []


def test_a_week_cut_short_expires_on_its_last_session():
    # XNYS was closed from 2001-09-11 to 2001-09-14; the Monday of that week was a session.
    assert weekly_expiries(date(2001, 9, 3), date(2001, 9, 21)) == [
        date(2001, 9, 7),
        date(2001, 9, 10),
        date(2001, 9, 21),
    ]


def test_is_monthly_expiry_knows_the_third_friday_week():
    assert [is_monthly_expiry(d) for d in (date(2022, 4, 14), date(2022, 4, 8), date(2022, 4, 22))] == [
        True,
        False,
        False,
    ]


def test_expiries_past_the_calendar_are_refused():
    with pytest.raises(InvalidInput) as caught:
        weekly_expiries(date(2099, 1, 1), date(2099, 12, 31))

    assert caught.value.message.startswith("the XNYS calendar ends on ")
    assert caught.value.message.endswith(": expiries up to 2099-12-31 are not known yet")
