"""The local fake of Alpaca's API, shared by the modules that talk to it."""

import pytest

from execution.tests.fake_alpaca import FakeAlpaca


@pytest.fixture(scope="module")
def fake_server():
    # One server per module: stopping werkzeug's takes up to half a second.
    server = FakeAlpaca().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    yield fake_server
    fake_server.release()
