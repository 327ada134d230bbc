"""Config files read by every core: YAML mappings validated into pydantic models, refused with a
message naming the file."""

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from marketdata.core.errors import InvalidInput, validation_message

Model = TypeVar("Model", bound=BaseModel)


def yaml_model_load(path: str | Path, model: type[Model], what: str) -> Model:
    """The model a YAML file declares (what: "a strategy config"); a missing file, broken YAML,
    another shape than a mapping or an invalid field is refused, naming the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: {what} is a mapping of keys to values")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, str(path))) from None
