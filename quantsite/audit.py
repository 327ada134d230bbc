"""Writing to the audit trail: the record of what was done, by whom, to what; every service that
must leave a trace writes it here."""

from typing import Any

from django.db import models

from quantsite.models import AuditRecord


def audit(**fields: Any) -> AuditRecord:
    """Write an audit record: audit_record's fields, saved."""
    record = audit_record(**fields)
    record.save()
    return record


def audit_record(
    *,
    actor,
    action: str,
    subject: models.Model | tuple[str, str],
    summary: str,
    label: str | None = None,
    **data: Any,
) -> AuditRecord:
    """That actor (a user, or None for the platform) did action to subject (a model instance, or a
    (type, id) pair), with summary and data (plain JSON values); label names an actor that is no
    user (the operating-system user of a command line). Unsaved: audit() saves it, a service that
    writes many saves them at once (bulk_create)."""
    if isinstance(subject, models.Model):
        subject_type, subject_id = subject._meta.model_name, str(subject.pk)
    else:
        subject_type, subject_id = subject
    return AuditRecord(
        actor=actor,
        actor_label=label or (actor.get_username() if actor is not None else "platform"),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        summary=summary,
        data=data,
    )
