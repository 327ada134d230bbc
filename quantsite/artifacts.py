"""The artifact storage: HTML reports, model files and feature caches, each kept under a name
("backtests/run-7.html") in the storage that ARTIFACT_STORAGE picks: a local folder, or an
S3-compatible bucket (settings). Rows keep the name, never where the storage is."""

import os

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.crypto import get_random_string
from django.utils.functional import cached_property


class ArtifactFileStorage(FileSystemStorage):
    """The local folder ARTIFACT_STORAGE. An artifact written again replaces the one of that name (a
    run's report is written again when the run is) through a file beside it renamed over it, so a
    reader never gets half a file."""

    def __init__(self, **options) -> None:
        super().__init__(allow_overwrite=True, **options)

    @cached_property
    def base_location(self) -> str:
        return self._value_or_setting(self._location, settings.ARTIFACT_STORAGE)

    def _clear_cached_properties(self, setting, **kwargs) -> None:
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "ARTIFACT_STORAGE":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def _save(self, name: str, content) -> str:
        folder, file_name = os.path.split(name)
        partial = os.path.join(folder, f".{file_name}.{get_random_string(8)}.partial")
        os.replace(self.path(super()._save(partial, content)), self.path(name))
        return name


def artifact_storage() -> Storage:
    return storages["artifacts"]


def artifact_write(name: str, content: bytes | str) -> str:
    """content kept as the artifact name, replacing any of that name; the name."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return artifact_storage().save(name, ContentFile(data))


def artifact_open(name: str) -> File:
    """The artifact, open for reading (FileNotFoundError when there is none of that name)."""
    return artifact_storage().open(name, "rb")


def artifact_read(name: str) -> bytes:
    with artifact_open(name) as file:
        return file.read()


def artifact_location(name: str) -> str:
    """Where the artifact is, for a person to find it: its file, or s3://bucket/key."""
    storage = artifact_storage()
    try:
        return storage.path(name)
    except NotImplementedError:
        key = "/".join(part for part in (storage.location, name) if part)
        return f"s3://{storage.bucket_name}/{key}"
