"""Roles are Django groups; the data migration of this app creates them. A superuser holds every
role. Each role includes what the ones before it may do: a viewer reads; an operator also runs
research and pauses strategies; a risk officer also approves risk changes and resets; an admin
may do everything."""

from marketdata.core.errors import Forbidden

VIEWER, OPERATOR, RISK_OFFICER, ADMIN = "viewer", "operator", "risk_officer", "admin"
ROLES = (VIEWER, OPERATOR, RISK_OFFICER, ADMIN)
# Who may act as each role: the role itself and the roles above it.
HOLDERS = {
    VIEWER: {VIEWER, OPERATOR, RISK_OFFICER, ADMIN},
    OPERATOR: {OPERATOR, RISK_OFFICER, ADMIN},
    RISK_OFFICER: {RISK_OFFICER, ADMIN},
    ADMIN: {ADMIN},
}


def user_roles(user) -> set[str]:
    """The roles a user holds (every one for a superuser; none for an anonymous user)."""
    if user is None or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ROLES)
    return set(user.groups.values_list("name", flat=True)) & set(ROLES)


def has_role(user, role: str) -> bool:
    """Whether user may act as role (holding it, or a role above it)."""
    return bool(user_roles(user) & HOLDERS[role])


def role_require(user, role: str, what: str) -> None:
    """Forbidden unless user may act as role; what: the act, for the message ("pause a strategy")."""
    if not has_role(user, role):
        raise Forbidden(f"to {what} needs the role {role}")
