"""A fitted model with its lineage, as a file: what the registry keeps and ml strategies load.

This module imports no model library, so reading an artifact's lineage costs nothing; model()
loads the libraries when the fitted model is needed.
"""

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.core.pipeline import FeatureSet
from marketdata.core.errors import InvalidInput

if TYPE_CHECKING:
    from strategies.core.models.trading import TradingModel


@dataclass(frozen=True)
class ModelArtifact:
    model_type: str
    params: dict[str, Any]
    feature_columns: tuple[str, ...]
    classes: tuple[Any, ...]  # () for a regressor
    importance: dict[str, float]
    payload: bytes  # the fitted model
    feature_set: dict[str, Any] = field(default_factory=dict)  # the whole definition, to compute them again
    feature_set_version: str = ""
    label_definition: str = ""
    training_start: str = ""
    training_end: str = ""
    instruments: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the model and everything that defines it (not the metrics measured on it)."""
        defining = [
            self.model_type,
            self.params,
            self.feature_columns,
            self.classes,
            self.feature_set,
            self.feature_set_version,
            self.label_definition,
            self.training_start,
            self.training_end,
            self.instruments,
        ]
        head = json.dumps(defining, sort_keys=True, default=str)
        return hashlib.sha256(head.encode() + self.payload).hexdigest()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ModelArtifact":
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path}: the model artifact cannot be read ({exc.strerror})") from None
        return cls.from_bytes(content, source=str(path))

    def to_bytes(self) -> bytes:
        """The artifact file's content (JSON, the model base64-encoded, with its content hash)."""
        document = {**self.__dict__, "payload": base64.b64encode(self.payload).decode("ascii")}
        document["content_hash"] = self.content_hash
        return json.dumps(document, default=list).encode("utf-8")

    @classmethod
    def from_bytes(cls, content: bytes, *, source: str) -> "ModelArtifact":
        """The artifact whose file content is content (source names it in errors)."""
        try:
            document = json.loads(content)
            stored_hash = document.pop("content_hash")
            document["payload"] = base64.b64decode(document["payload"])
            for name in ("feature_columns", "classes", "instruments"):
                document[name] = tuple(document[name])
            artifact = cls(**document)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{source}: not a model artifact ({type(exc).__name__}: {exc})") from None
        if artifact.content_hash != stored_hash:
            raise InvalidInput(f"{source}: the model does not match its content hash (altered or damaged)")
        return artifact

    def model(self) -> "TradingModel":
        """The fitted model, ready to predict (the model libraries load here, not on import)."""
        from strategies.core.models.trading import MODELS

        return MODELS[self.model_type].from_artifact(self)

    def feature_set_definition(self) -> FeatureSet:
        """The feature set the model was trained on, as it was: the same version, or an error."""
        if not self.feature_set:
            raise InvalidInput("the model artifact holds no feature set definition: train it again")
        feature_set = FeatureSet.model_validate(self.feature_set)
        if feature_set.version != self.feature_set_version:
            raise InvalidInput(
                f"the model's feature set {feature_set.name!r} computes as version {feature_set.version} "
                f"now, not the {self.feature_set_version} it was trained on: train it again"
            )
        return feature_set
