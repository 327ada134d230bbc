"""Test set-up shared by every app: service markers and common fixtures."""

import os

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    skips = {
        "postgres": None if on_postgres else "needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)",
        "redis": None if settings.REDIS_URL else "needs Redis: set REDIS_URL=redis://... (CI does)",
    }
    for item in items:
        for marker, reason in skips.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test logins hash with MD5: the production hasher's rounds cost half a second per test user
    and test nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anon():
    from rest_framework.test import APIClient

    return APIClient()
