"""The deployment files agree with each other and with the settings: docker-compose.yml (as Docker
Compose reads it), the Procfile, the Dockerfile, .dockerignore and the Celery queues.

Where the docker client and its compose plugin are installed, `docker compose config` reads and
validates the compose file; elsewhere it is parsed with PyYAML and its variables are interpolated as
Compose does. The same checks run on either."""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from quantsite.celery import QUEUES
from quantsite.tests.test_settings import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {"SECRET_KEY": "compose-test-secret", "POSTGRES_PASSWORD": "compose-test-password"}
SERVICES = {"postgres", "redis"}
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


class ComposeError(Exception):
    pass


def interpolated(value, env: dict[str, str]):
    """value with Compose's ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message},
    ${NAME?message} and $$ resolved from env, in every string it holds."""
    if isinstance(value, dict):
        return {key: interpolated(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolated(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        present = env.get(name, "") != "" if operator and operator.startswith(":") else name in env
        if operator in {":?", "?"} and not present:
            raise ComposeError(f"required variable {name} is missing a value: {argument}")
        if operator in {":-", "-"} and not present:
            return argument
        return env.get(name, "")

    return VARIABLE.sub(resolve, value)


def compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


def compose_config(env: dict[str, str], tmp_path: Path) -> dict:
    """The compose file's services, volumes, ... as Docker Compose reads it with env."""
    if not compose_available():
        return interpolated(yaml.safe_load(COMPOSE.read_text()), env)
    no_dotenv = tmp_path / "empty.env"
    no_dotenv.write_text("")
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(no_dotenv), "-f", str(COMPOSE), "config", "--format", "json"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ComposeError(result.stderr)
    return json.loads(result.stdout)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture
def compose(tmp_path) -> dict:
    return compose_config(SECRETS, tmp_path)


def queues_of(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(","))


def test_the_compose_services_run_the_procfile_processes_with_the_same_commands(compose):
    processes = procfile()

    assert set(compose["services"]) == SERVICES | {"migrate"} | set(processes)
    assert set(processes) == {"web", "worker", "trading", "beat"}
    for name, command in processes.items():
        assert compose["services"][name]["command"] == shlex.split(interpolated(command, {})), name
    assert compose["services"]["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]


def test_the_worker_groups_serve_every_celery_queue_once(compose):
    worker, trading = (compose["services"][name]["command"] for name in ("worker", "trading"))

    assert queues_of(worker) | queues_of(trading) == set(QUEUES)
    assert queues_of(worker) & queues_of(trading) == set()
    assert queues_of(trading) == {"execution"}  # the trading sessions, a thread each
    assert trading[trading.index("-P") + 1] == "threads"


def test_the_platform_services_share_one_image_and_reach_postgres_and_redis(compose):
    services = compose["services"]
    postgres = services["postgres"]["environment"]

    for name in ["migrate", *procfile()]:
        service = services[name]
        env = service["environment"]
        assert service["image"] == "quant-platform:local", name
        assert (ROOT / service["build"]["context"]).resolve() == ROOT, name
        assert service["build"]["dockerfile"] == "Dockerfile", name
        assert (env["DEBUG"], env["SECRET_KEY"]) == ("false", SECRETS["SECRET_KEY"]), name
        assert env["DATABASE_URL"] == (
            f"postgres://{postgres['POSTGRES_USER']}:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/"
            f"{postgres['POSTGRES_DB']}"
        ), name
        assert postgres["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
        cache, broker = urlsplit(env["REDIS_URL"]), urlsplit(env["CELERY_BROKER_URL"])
        assert (cache.hostname, broker.hostname) == ("redis", "redis"), name
        assert cache.path != broker.path, name  # the broker's queues apart from the cache and events
        assert "127.0.0.1" in env["ALLOWED_HOSTS"].split(","), name  # the healthcheck's host


def test_each_process_waits_for_what_it_needs_to_be_healthy(compose):
    services = compose["services"]
    ready = {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }

    for name in procfile():
        conditions = {on: wait["condition"] for on, wait in services[name]["depends_on"].items()}
        assert conditions == ready, name
    assert {on: wait["condition"] for on, wait in services["migrate"]["depends_on"].items()} == {
        "postgres": "service_healthy"
    }
    for name in ("postgres", "redis", "web", "worker", "trading"):
        assert services[name]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
    assert "http://127.0.0.1:8000/healthz" in services["web"]["healthcheck"]["test"][-1]
    assert services["web"]["command"] == ["gunicorn", "-c", "quantsite/gunicorn.conf.py"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {name: value for name, value in SECRETS.items() if name != missing}

    with pytest.raises(ComposeError, match=f"required variable {missing} is missing a value: set {missing}"):
        compose_config(env, tmp_path)


def test_the_image_is_pinned_runs_as_its_own_user_and_keeps_no_secret():
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = re.findall(r"^([A-Z]+) (.*)$", dockerfile, flags=re.MULTILINE)
    values = {}
    for keyword, argument in instructions:
        values.setdefault(keyword, []).append(argument)

    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", values["FROM"][0])
    assert values["USER"] == ["quant"]
    assert json.loads(values["CMD"][0]) == shlex.split(procfile()["web"])
    assert values["COPY"][0] == "requirements.txt ."  # installed before the code is copied
    assert "pip install -r requirements.txt" in values["RUN"]
    assert "DEBUG=false" in values["ENV"][1].split()
    assert not [v for v in values["ENV"] + values.get("ARG", []) if re.search(r"SECRET|PASSWORD|_KEY", v)]
    assert "collectstatic" in dockerfile
    ignored = set((ROOT / ".dockerignore").read_text().splitlines())
    assert {".env", ".git", ".venv", "var"} <= ignored
