"""Roles are Django groups; DRF permission classes check them on the server."""

from rest_framework.permissions import BasePermission

VIEWER, OPERATOR, RISK_OFFICER, ADMIN = "viewer", "operator", "risk_officer", "admin"
ROLES = (VIEWER, OPERATOR, RISK_OFFICER, ADMIN)


def has_role(user, *roles: str) -> bool:
    if not (user and user.is_authenticated):
        return False
    return user.is_superuser or user.groups.filter(name__in=(*roles, ADMIN)).exists()


class IsOperator(BasePermission):
    def has_permission(self, request, view) -> bool:
        return has_role(request.user, OPERATOR, RISK_OFFICER)
