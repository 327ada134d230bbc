"""Run modes: production refuses to start without its secrets, and passes check --deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x7Qp9vR2sT5uW8yZ1aB4cD6eF0gH3jK5mN7pQ9rS2tV4wX6" * 2,
    "ALLOWED_HOSTS": "quant.example.com",
}


def manage(*args: str, env: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "LOG_FORMAT"}
    }
    full = {**clean, "VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_without_a_secret_stops_with_one_clear_line(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = manage("check", env=env, tmp_path=tmp_path)

    assert result.returncode == 1
    assert result.stderr == f"configuration error: {missing} must be set when DEBUG is off\n"


def test_production_settings_pass_check_deploy(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_logs_are_json_lines(tmp_path):
    code = "import structlog; structlog.get_logger('probe').info('hello', answer=42)"

    result = manage("shell", "-c", code, env=PRODUCTION, tmp_path=tmp_path)

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["event"], line["answer"], line["level"], line["logger"]) == ("hello", 42, "info", "probe")


def test_development_logs_are_console_lines(tmp_path):
    code = "import structlog; structlog.get_logger('probe').info('hello', answer=42)"

    result = manage("shell", "-c", code, env={}, tmp_path=tmp_path)

    last = result.stderr.strip().splitlines()[-1]
    assert "[info     ] hello" in last
    assert last.endswith("answer=42")
