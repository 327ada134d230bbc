"""The API against its OpenAPI schema, over every operation the schema lists: without credentials
each answers 401; a viewer's write is refused 403; schemathesis, in-process through the WSGI
application with an admin's token on seeded data, finds no 5xx and no answer that breaks the
schema. And throttling: writes per user, unauthenticated requests per address, reads never."""

import re
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from quantsite.wsgi import application
from risk.services import risk_policy_change_request
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import promotion_request, strategy_version_create

pytestmark = pytest.mark.django_db

WRITES = {"post", "put", "patch", "delete"}
# Operations anyone may call: the liveness check only (its branch adds it), none here.
PUBLIC_PATH = re.compile(r"/healthz/?$")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 25  # per operation and generation mode (valid, then invalid data)


def operations() -> list[tuple[str, str, dict]]:
    """(path with its parameters filled in, method, operation) for every operation of the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            found.append((re.sub(r"\{[^}]+\}", "1", path), method, operation))
    return found


def test_without_credentials_every_operation_but_the_liveness_check_answers_401(anon, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "writes": None},
    }
    answered = {}

    for path, method, _operation in operations():
        if PUBLIC_PATH.search(path):
            continue
        response = getattr(anon, method)(path)
        answered[(method, path)] = (response.status_code, response.json()["error"])

    assert len(answered) == 57
    assert {key: value for key, value in answered.items() if value != (401, "not_authenticated")} == {}


def test_a_viewer_is_refused_every_write_before_anything_is_done(as_role):
    viewer = as_role("viewer")
    writes = [(path, method) for path, method, _ in operations() if method in WRITES]

    answered = {(method, path): getattr(viewer, method)(path, {}).status_code for path, method in writes}

    # Calling an agent tool is open to every role: each tool asks for its own (agents.registry).
    assert answered.pop(("post", "/api/v1/agents/tools/1/invoke/")) == 404
    assert len(answered) == 17
    assert set(answered.values()) == {403}


@pytest.fixture
def seeded(book, people, django_user_model):
    """A trading book, a draft version, a pending promotion and risk-limit change, and an admin's
    token."""
    book(positions=3)
    draft = strategy_version_create(
        config=StrategyConfig(strategy="mean_reversion", name="draft", universe=["AAA"]),
        created_by=people["olga"],
    )
    promotion_request(version=draft, requested_by=people["olga"])
    risk_policy_change_request(values={"level": 4}, requested_by=people["olga"])
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    return Token.objects.create(user=admin).key


@contextmanager
def in_this_transaction():
    """Requests through the WSGI handler keep the test's connection (and its transaction) open, as
    Django's own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(seeded, settings, artifacts):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "writes": None},
    }
    auth = {"Authorization": f"Token {seeded}"}
    failures: dict[str, str] = {}
    tested = 0

    with in_this_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, headers=auth)
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

                @settings_for_fuzzing
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case):
                    case.call_and_validate(headers=auth, checks=CHECKS)

                try:
                    call()
                except Unsatisfiable:
                    assert mode == schemathesis.GenerationMode.NEGATIVE  # no invalid input to make
                except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, not one
                    failures[f"{operation.label} ({mode})"] = str(exc)[:2000]
            tested += 1

    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    assert tested == 56  # every operation but the schema endpoint, which its own answer leaves out


settings_for_fuzzing = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_writes_are_throttled_per_user_and_reads_never(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/min", "writes": "2/min"},
    }
    body = {"reason": "drill"}

    answers = [api.post("/api/v1/controls/kill-switch/", body).status_code for _ in range(3)]
    reads = {api.get("/api/v1/controls/trading-states/").status_code for _ in range(20)}

    assert answers == [200, 200, 429]
    refused = api.post("/api/v1/controls/kill-switch/", body)
    assert refused.json()["error"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert reads == {200}


def test_unauthenticated_requests_are_throttled_per_address(anon, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "writes": "60/min"},
    }

    answers = [anon.get("/api/v1/positions/").status_code for _ in range(3)]
    guessed = anon.get("/api/v1/positions/", HTTP_AUTHORIZATION="Token not-a-token")
    elsewhere = anon.get("/api/v1/positions/", REMOTE_ADDR="10.0.0.9")

    assert answers == [401, 401, 401]
    assert (guessed.status_code, guessed.json()["error"]) == (429, "throttled")
    assert elsewhere.status_code == 401


def test_the_schema_is_valid_openapi_and_generates_without_a_warning(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert out.read_text().startswith("openapi: 3.0.3\n")
