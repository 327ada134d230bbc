"""Roles are Django groups; the data migration of this app creates them."""

VIEWER, OPERATOR, RISK_OFFICER, ADMIN = "viewer", "operator", "risk_officer", "admin"
ROLES = (VIEWER, OPERATOR, RISK_OFFICER, ADMIN)
