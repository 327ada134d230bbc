"""API permissions by role (quantsite.roles): every request needs a role; reading needs viewer,
each write names the role it needs."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from quantsite.roles import ADMIN, OPERATOR, RISK_OFFICER, VIEWER, has_role


class RolePermission(BasePermission):
    """Reads need `read_role`; anything else `write_role`."""

    read_role = VIEWER
    write_role = OPERATOR

    def has_permission(self, request, view) -> bool:
        role = self.read_role if request.method in SAFE_METHODS else self.write_role
        if has_role(request.user, role):
            return True
        self.message = f"this needs the role {role}"
        return False


class ViewerReads(RolePermission):
    """Read only: writes need an admin."""

    write_role = ADMIN


class OperatorWrites(RolePermission):
    write_role = OPERATOR


class RiskOfficerWrites(RolePermission):
    write_role = RISK_OFFICER
