"""Roles are groups, each including the ones below it; a superuser holds them all."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from quantsite.roles import ADMIN, OPERATOR, RISK_OFFICER, VIEWER, has_role, user_roles

pytestmark = pytest.mark.django_db


def test_a_role_includes_the_ones_below_it(django_user_model):
    risk = django_user_model.objects.create_user("rita")
    risk.groups.add(Group.objects.get(name=RISK_OFFICER))
    nobody = django_user_model.objects.create_user("nora")
    root = django_user_model.objects.create_superuser("root")

    assert [has_role(risk, role) for role in (VIEWER, OPERATOR, RISK_OFFICER, ADMIN)] == [
        True,
        True,
        True,
        False,
    ]
    assert [has_role(nobody, role) for role in (VIEWER, OPERATOR, RISK_OFFICER, ADMIN)] == [False] * 4
    assert user_roles(root) == {VIEWER, OPERATOR, RISK_OFFICER, ADMIN}
    assert user_roles(AnonymousUser()) == set()
