"""The web tier as deployed: gunicorn with its settings file (quantsite/gunicorn.conf.py), DEBUG off
behind a TLS proxy, static files collected and served by whitenoise under content-hashed names,
compressed and cached for ever: the console's own files and plotly.js from STATICFILES_DIRS."""

import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

from quantsite.tests.test_settings import PRODUCTION, ROOT

PLOTLY_JS = Path(find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"
FOREVER = "max-age=315360000, public, immutable"
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass(frozen=True)
class Served:
    port: int
    static_root: Path

    def get(self, path: str, **headers: str) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get_over_tls(self, path: str, **headers: str) -> Reply:
        """As the TLS-terminating proxy in front passes a request on."""
        return self.get(path, **{"X-Forwarded-Proto": "https", **headers})


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """collectstatic, then gunicorn on a free port of 127.0.0.1 (one sync worker), as in production."""
    tmp = tmp_path_factory.mktemp("served")
    kept = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT", "DATABASE_URL"}}
    env = {
        **kept,
        **PRODUCTION,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "true",
        "VAR_DIR": str(tmp / "var"),
        "STATIC_ROOT": str(tmp / "static"),
        "WEB_BIND": "127.0.0.1:0",
        "WEB_CONCURRENCY": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=STARTUP_SECONDS,
    )
    log = tmp / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "quantsite/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Served(port=listening_port(server, log), static_root=tmp / "static")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def listening_port(server: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return int(found.group(1))
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited ({server.returncode}):\n{log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not listen within {STARTUP_SECONDS} s:\n{log.read_text()}")


def test_healthz_answers_over_plain_http_while_pages_redirect_to_https(served):
    health = served.get("/healthz")
    page = served.get("/accounts/login/")

    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    assert (page.status, page.headers["Location"]) == (
        301,
        f"https://127.0.0.1:{served.port}/accounts/login/",
    )


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("console/console.css", ROOT / "static" / "console" / "console.css"),
        ("console/htmx.min.js", ROOT / "static" / "console" / "htmx.min.js"),
        ("plotly/plotly.min.js", PLOTLY_JS),
    ],
)
def test_static_files_are_served_by_hashed_name_compressed_and_cached_for_ever(served, name, source):
    manifest = json.loads((served.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest[name]

    response = served.get_over_tls(f"/static/{hashed}", **{"Accept-Encoding": "gzip"})

    assert hashed != name
    assert response.status == 200
    assert (response.headers["Content-Encoding"], response.headers["Cache-Control"]) == ("gzip", FOREVER)
    assert gzip.decompress(response.body) == source.read_bytes()


def test_pages_link_the_hashed_names(served):
    manifest = json.loads((served.static_root / "staticfiles.json").read_text())["paths"]

    page = served.get_over_tls("/accounts/login/").body.decode()

    assert f'href="/static/{manifest["console/console.css"]}"' in page
    assert f'src="/static/{manifest["console/htmx.min.js"]}"' in page
