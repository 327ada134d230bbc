"""Reads of strategies and models: the model registry's artifacts, strategy versions with their
trading states, and approvals."""

from django.db.models import BooleanField, CharField, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce, Concat

from marketdata.core.errors import InvalidInput, NotFound
from quantsite.artifacts import artifact_read
from quantsite.db import row_get
from risk.core.state import TradingState
from risk.models import TradingStateRecord
from strategies.core.models.artifact import ModelArtifact
from strategies.models import Approval, StrategyVersion, TrainedModel


def model_artifact_get(reference: str) -> ModelArtifact | None:
    """The artifact of the registered model whose id is reference (read from the artifact storage);
    None when reference is not an id (ml strategies then read it as a file path). A registered
    artifact whose file no longer holds the registered content is refused."""
    if not reference.isdigit():
        return None
    trained = TrainedModel.objects.filter(pk=int(reference)).first()
    if trained is None:
        raise NotFound(f"no registered model #{reference}")
    try:
        content = artifact_read(trained.artifact_path)
    except FileNotFoundError:
        raise InvalidInput(
            f"model #{reference}: its artifact {trained.artifact_path} is missing from the artifact storage"
        ) from None
    artifact = ModelArtifact.from_bytes(content, source=trained.artifact_path)
    if artifact.content_hash != trained.content_hash:
        raise InvalidInput(
            f"model #{reference}: its artifact file holds another model than the one registered"
        )
    return artifact


def strategy_version_list() -> QuerySet[StrategyVersion]:
    """Versions with their creator and their own trading state, in one query: `state` (ACTIVE when
    it has no record), `state_reason` and `flatten_requested`."""
    scope = Concat(Value("version:"), Cast(OuterRef("pk"), CharField()))
    own = TradingStateRecord.objects.filter(scope=scope)
    return StrategyVersion.objects.select_related("created_by").annotate(
        state=Coalesce(Subquery(own.values("state")[:1]), Value(TradingState.ACTIVE.value)),
        state_reason=Coalesce(Subquery(own.values("reason")[:1]), Value(""), output_field=TextField()),
        flatten_requested=Coalesce(
            Subquery(own.values("flatten_requested")[:1]), Value(False), output_field=BooleanField()
        ),
    )


def strategy_version_get(*, version_id) -> StrategyVersion:
    return row_get(strategy_version_list(), version_id, "strategy version")


def approval_list() -> QuerySet[Approval]:
    return Approval.objects.select_related("requested_by", "decided_by")


def approval_get(*, approval_id) -> Approval:
    return row_get(approval_list(), approval_id, "approval")


def version_approval_list(*, version: StrategyVersion) -> QuerySet[Approval]:
    """The promotion requests of a version, newest first."""
    return approval_list().filter(subject_type="strategyversion", subject_id=str(version.pk))
