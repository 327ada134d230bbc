"""The walk-forward admin: read-only, with progress, headline figures, windows and the report link."""

import pytest

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import WalkForwardConfig
from backtests.walkforward_services import (
    walk_forward_inputs_clear,
    walk_forward_run_create,
    walk_forward_run_execute,
)
from strategies.core.config import StrategyConfig

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts")]


@pytest.fixture
def walk_forward(aaa):
    walk_forward_inputs_clear()
    run = walk_forward_run_create(
        strategy_config=StrategyConfig(strategy="momentum", universe=["AAA"]),
        walk_forward_config=WalkForwardConfig(
            in_sample_days=250, out_of_sample_days=63, step_days=63, parameter_grid={"fast": [5, 10]}
        ),
        backtest_config=BacktestConfig(),
        chunk_size=1,
    )
    walk_forward_run_execute(run=run, fan_out=False)
    run.refresh_from_db()
    yield run
    walk_forward_inputs_clear()


def test_the_list_shows_progress_figures_and_the_report_link(admin_client, walk_forward):
    response = admin_client.get("/admin/backtests/walkforwardrun/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "10 of 10" in html  # (4 windows + the whole span) x 2 sets, one a job
    assert f"{walk_forward.pbo:,.2f}" in html
    assert f'href="/api/v1/walkforwards/{walk_forward.pk}/report/"' in html


def test_the_run_page_shows_its_windows_and_cannot_be_changed(admin_client, walk_forward):
    response = admin_client.get(f"/admin/backtests/walkforwardrun/{walk_forward.pk}/change/")

    html = response.content.decode()
    first = walk_forward.result["windows"][0]
    assert response.status_code == 200
    assert f"{first['out_of_sample_start'][:10]} .. {first['out_of_sample_end'][:10]}" in html
    assert "fast=" in html
    assert 'name="_save"' not in html
    assert admin_client.post(f"/admin/backtests/walkforwardrun/{walk_forward.pk}/delete/").status_code == 403
