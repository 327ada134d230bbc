"""The research notebook runs from top to bottom in a fresh kernel of this Python, on the pure cores
alone (no Django settings), without reaching the network, and prints what its text describes."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "research.ipynb"

# An IPython startup file the kernel runs before the first cell. It closes the network: a socket
# may connect to loopback (or a Unix socket) only, and only localhost is resolved; the kernel's own
# channels are ZeroMQ sockets, which this does not touch. And it notes the modules loaded before
# the notebook: the kernel's debugger (debugpy's pydevd) imports django itself, at start-up.
STARTUP = """
import sys


def _offline():
    import ipaddress
    import socket

    getaddrinfo = socket.getaddrinfo

    def checked(host):
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host in {"localhost", None}
        if not local:
            raise OSError(f"the notebook test allows no network access ({host})")

    def guarded(connect):
        def guarded_connect(self, address):
            if isinstance(address, tuple):
                checked(address[0])
            return connect(self, address)

        return guarded_connect

    def guarded_getaddrinfo(host, *args, **kwargs):
        checked(host)
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded(socket.socket.connect)
    socket.socket.connect_ex = guarded(socket.socket.connect_ex)
    socket.getaddrinfo = guarded_getaddrinfo


_offline()
del _offline
_modules_before_the_notebook = set(sys.modules)
"""

# Run after the notebook's cells, in its kernel: which Python it is, what the notebook imported
# beyond the pure cores (web and task frameworks, any module of an app outside its core), whether
# the network is closed (192.0.2.1 is a documentation address, routed nowhere), and the Sharpe
# ratios of the notebook's two backtests.
PROBE = """
import json, os, socket, sys

try:
    socket.create_connection(("192.0.2.1", 80), timeout=1).close()
    network = "open"
except OSError as exc:
    network = str(exc)
apps = {"marketdata", "features", "strategies", "execution", "risk", "backtests", "monitoring", "quantsite"}
frameworks = {"django", "rest_framework", "celery"}
imported = [name.split(".") for name in set(sys.modules) - _modules_before_the_notebook]
print(json.dumps({
    "prefix": sys.prefix,
    "settings": os.environ.get("DJANGO_SETTINGS_MODULE"),
    "beyond_the_cores": sorted(
        ".".join(parts)
        for parts in imported
        if parts[0] in frameworks or (parts[0] in apps and parts[1:2] not in ([], ["core"]))
    ),
    "network": network,
    "sharpe": {name: result.metrics.sharpe_ratio for name, result in results.items()},
}))
"""


def stdout(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture
def isolated_kernel_env(tmp_path, monkeypatch):
    """The kernel inherits this environment: no Django settings, the network guard as its only
    IPython startup file, and Jupyter directories of its own (no user kernelspec named python3
    can shadow the one of this Python)."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-offline.py").write_text(STARTUP)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [(cell.outputs, cell.execution_count) for cell in code] == [([], None)] * len(code)
    assert nb.metadata.kernelspec.name == "python3"


def test_the_research_notebook_runs_on_the_pure_cores_offline(isolated_kernel_env):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(new_code_cell(PROBE))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )

    client.execute()  # raises CellExecutionError at the first cell that fails

    *cells, probe = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [o.ename for cell in cells for o in cell.outputs if o.output_type == "error"] == []
    facts = json.loads(stdout(probe))
    sharpe = facts.pop("sharpe")
    assert facts == {
        "prefix": sys.prefix,  # the kernel is this Python (the venv's)
        "settings": None,
        "beyond_the_cores": [],
        "network": "the notebook test allows no network access (192.0.2.1)",
    }
    printed = [stdout(cell) for cell in cells]
    text = "\n".join(printed)
    assert "{'AAA': 1510, 'BBB': 1510, 'CCC': 1510, 'DDD': 1510}" in text
    assert "feature set default version 3d51b261de35: 23 columns\nwarm-up rows per symbol: 199" in text
    assert "fixed:5:0.02 on AAA: {0.0: 1125, 1.0: 380}, unlabelled: 5" in text
    assert "triple barrier on AAA: {'lower': 607, 'upper': 571, 'vertical': 302}" in text
    assert "trained on AAA, BBB, CCC, DDD, 2017-10-17 to 2020-12-23, 23 features" in text

    folds = next(out for out in printed if out.startswith("training rows:")).splitlines()
    assert folds[0] == "training rows: 3212, share labelled up: 0.239"
    assert folds[1].split() == [
        "train_rows", "test_rows", "accuracy", "precision", "recall", "roc_auc", "log_loss", "ic"
    ]  # fmt: skip
    # purging and the embargo take their rows out of each fold's training rows
    assert [line.split()[:3] for line in folds[3:]] == [
        ["0", "2548", "643"],
        ["1", "2524", "643"],
        ["2", "2528", "642"],
        ["3", "2528", "642"],
        ["4", "2548", "642"],
        ["all", "3212", "3212"],
    ]

    backtests = next(out for out in printed if "in sample 2018-2020" in out).splitlines()
    assert backtests[0].split() == [
        "return_pct", "buy_hold_pct", "sharpe", "max_dd_pct", "trades", "win_rate_pct", "exposure_pct"
    ]  # fmt: skip
    assert backtests[-1].endswith("label fixed:5:0.02:2, horizon 5 bars")
    # what the notebook says: the span the model was trained on flatters it
    assert sharpe["in sample 2018-2020"] > sharpe["out of sample 2021-2022"]

    walk = next(out for out in printed if out.startswith("walk-forward windows:")).splitlines()
    assert walk[0] == "walk-forward windows: 7"
    assert [line.split()[:3] for line in walk[3:10]] == [
        ["0", "2017-01-03..2019-01-03", "2019-01-04..2019-07-05"],
        ["1", "2017-07-05..2019-07-05", "2019-07-08..2020-01-03"],
        ["2", "2018-01-03..2020-01-03", "2020-01-06..2020-07-06"],
        ["3", "2018-07-05..2020-07-06", "2020-07-07..2021-01-04"],
        ["4", "2019-01-04..2021-01-04", "2021-01-05..2021-07-06"],
        ["5", "2019-07-08..2021-07-06", "2021-07-07..2022-01-03"],
        ["6", "2020-01-06..2022-01-03", "2022-01-04..2022-07-06"],
    ]
    assert walk[12].startswith("stitched out of sample")
    assert walk[13].startswith("deflated Sharpe probability: ")
