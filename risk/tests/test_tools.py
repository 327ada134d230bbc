"""The risk agent's tools: the accounts' exposure and the risk report (the policy in force as the
controls API shows it, the kill switch, the exposure)."""

import pytest

pytestmark = pytest.mark.django_db


def test_exposure_per_account_and_per_mode(as_role, invoke, book):
    version = book(positions=2)  # 1 AAA (last close 89.19) and 2 S001 (no bar) bought at 100, 9,000 cash

    answer = invoke(as_role("viewer"), "compute_portfolio_exposure", mode="paper").json()["result"]

    account = {
        "mode": "paper",
        "strategy_version": version.pk,
        "label": f"{version.name} v1",
        "equity": "9289.19",
        "cash": "9000.00",
        "gross_exposure": "289.19",
        "net_exposure": "289.19",
        "exposure_pct": 3.1132,
        "positions": 2,
        "unmarked": ["S001"],
    }
    assert answer == {
        "totals": [{**account, "strategy_version": None, "label": "account"}],
        "accounts": [account],
    }
    assert invoke(as_role("viewer", "v2"), "compute_portfolio_exposure", mode="live").json()["result"] == {
        "totals": [],
        "accounts": [],
    }


def test_the_risk_report_has_the_policy_the_kill_switch_and_the_exposure(as_role, invoke, book):
    version = book()
    viewer = as_role("viewer")

    report = invoke(viewer, "generate_risk_report", strategy_version=version.pk).json()["result"]

    in_force = viewer.get(f"/api/v1/controls/risk-policy/?strategy_version={version.pk}").json()
    assert report["policy"] == in_force
    assert (report["policy"]["source"], report["policy"]["level"]) == ("default", 6)
    assert report["kill_switch"]["effective"] == "active"
    assert [a["strategy_version"] for a in report["exposure"]["accounts"]] == [version.pk]
