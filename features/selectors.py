"""Reads of features: the feature sets declared in configs/features/."""

from pathlib import Path

from django.conf import settings

from features.core.pipeline import FeatureSet, feature_set_load
from marketdata.core.errors import NotFound


def feature_set_list() -> list[FeatureSet]:
    return [feature_set_load(path) for path in sorted(_folder().glob("*.yaml"))]


def feature_set_get(*, name: str) -> FeatureSet:
    """A feature set by its name (configs/features/<name>.yaml), or from a YAML file's path."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"}:
        return feature_set_load(path)
    declared = _folder() / f"{name}.yaml"
    if not declared.is_file():
        known = ", ".join(p.stem for p in sorted(_folder().glob("*.yaml"))) or "none"
        raise NotFound(f"no feature set {name!r} in {_folder()}; the sets: {known}")
    return feature_set_load(declared)


def _folder() -> Path:
    return Path(settings.FEATURE_SETS_DIR)
