"""Reads of strategies and models: the model registry's artifacts."""

from marketdata.core.errors import InvalidInput, NotFound
from strategies.core.models.artifact import ModelArtifact
from strategies.models import TrainedModel


def model_artifact_get(reference: str) -> ModelArtifact | None:
    """The artifact of the registered model whose id is reference; None when reference is not an id
    (ml strategies then read it as a file path). A registered artifact whose file no longer holds
    the registered content is refused."""
    if not reference.isdigit():
        return None
    trained = TrainedModel.objects.filter(pk=int(reference)).first()
    if trained is None:
        raise NotFound(f"no registered model #{reference}")
    artifact = ModelArtifact.load(trained.artifact_path)
    if artifact.content_hash != trained.content_hash:
        raise InvalidInput(
            f"model #{reference}: its artifact file holds another model than the one registered"
        )
    return artifact
