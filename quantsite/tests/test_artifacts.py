"""The artifact storage: a local folder by default, or an S3-compatible bucket through django-storages,
here a local S3 server (moto's, on 127.0.0.1) that speaks the S3 API over HTTP like R2 or MinIO."""

from collections.abc import Iterator
from io import StringIO

import boto3
import pytest
from django.core.management import call_command
from moto.server import ThreadedMotoServer

from backtests.models import BacktestRun
from features.models import ComputedFeatures
from features.selectors import feature_set_get
from quantsite.artifacts import artifact_location, artifact_read, artifact_storage, artifact_write
from quantsite.tests.test_settings import manage
from strategies.selectors import model_artifact_get
from strategies.tests.test_ml_registry import trained_on

BUCKET = "quant-artifacts"
KEYS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """A local S3 server with an empty bucket BUCKET; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )


def bucket_keys(endpoint: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def bucket_object(endpoint: str, key: str) -> bytes:
    return s3_client(endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture
def in_bucket(settings, monkeypatch, s3_endpoint, artifacts) -> str:
    """This process's artifacts in BUCKET under prod/, as settings make it of
    ARTIFACT_STORAGE=s3://quant-artifacts/prod; the local artifact folder stays empty."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "location": "prod"},
        },
    }
    return s3_endpoint


@pytest.mark.django_db
def test_backtest_reports_models_and_features_live_in_the_bucket(in_bucket, artifacts, aaa, api, tmp_path):
    out = StringIO()
    call_command(
        *("backtest", "--strategy", "momentum", "--symbols", "AAA", "--html", str(tmp_path / "copy.html")),
        stdout=out,
    )

    run = BacktestRun.objects.get()
    report = bucket_object(in_bucket, f"prod/backtests/run-{run.pk}.html")
    assert report.startswith(b"<!DOCTYPE html>")
    assert run.report_path == f"backtests/run-{run.pk}.html"
    lines = out.getvalue().splitlines()
    assert lines[-2:] == [
        f"html report: s3://{BUCKET}/prod/backtests/run-{run.pk}.html",
        f"html report: {tmp_path / 'copy.html'}",
    ]
    assert (tmp_path / "copy.html").read_bytes() == report
    served = api.get(f"/api/v1/runs/{run.pk}/report/")
    assert (served.status_code, b"".join(served.streaming_content)) == (200, report)

    trained = trained_on([aaa], feature_set_get(name="default"))

    feature_cache = ComputedFeatures.objects.get()
    assert bucket_keys(in_bucket) == [
        f"prod/{run.report_path}",
        f"prod/{feature_cache.path}",
        f"prod/models/{trained.content_hash}.json",
    ]
    assert model_artifact_get(str(trained.pk)).content_hash == trained.content_hash
    assert not artifacts.exists()


@pytest.mark.django_db
def test_a_report_missing_from_the_bucket_is_a_404(in_bucket, aaa, api):
    call_command("backtest", "--strategy", "momentum", "--symbols", "AAA", stdout=StringIO())
    run = BacktestRun.objects.get()
    s3_client(in_bucket).delete_object(Bucket=BUCKET, Key=f"prod/{run.report_path}")

    response = api.get(f"/api/v1/runs/{run.pk}/report/")

    assert (response.status_code, response.json()["message"]) == (
        404,
        f"the report of backtest run #{run.pk} is missing from the artifact storage",
    )


def test_settings_put_the_artifacts_in_the_bucket_that_artifact_storage_names(s3_endpoint, tmp_path):
    code = (
        "from quantsite.artifacts import artifact_location, artifact_write; "
        "print(artifact_location(artifact_write('walkforwards/1.html', '<!DOCTYPE html>')))"
    )
    env = {
        "ARTIFACT_STORAGE": f"s3://{BUCKET}/research/",
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        **KEYS,
    }

    result = manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"s3://{BUCKET}/research/walkforwards/1.html\n"
    assert bucket_object(s3_endpoint, "research/walkforwards/1.html") == b"<!DOCTYPE html>"


def test_an_s3_url_without_a_bucket_stops_at_start_with_one_line(tmp_path):
    result = manage("check", env={"ARTIFACT_STORAGE": "s3:///reports"}, tmp_path=tmp_path)

    assert (result.returncode, result.stderr) == (
        1,
        "configuration error: ARTIFACT_STORAGE 's3:///reports' names no bucket\n",
    )


def test_a_local_artifact_written_again_is_replaced_whole(artifacts):
    first = artifact_write("backtests/run-1.html", "first")
    second = artifact_write("backtests/run-1.html", "second, longer")

    assert first == second == "backtests/run-1.html"
    assert artifact_read(first) == b"second, longer"
    assert artifact_location(first) == str(artifacts / "backtests" / "run-1.html")
    assert sorted(p.name for p in (artifacts / "backtests").iterdir()) == ["run-1.html"]  # no partial file
    assert artifact_storage().exists(first)
