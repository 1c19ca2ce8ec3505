from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Input")


@_attrs_define
class Input:
    """A file the job reads (`[[inputs]]`).

    Attributes:
        source (str): A local file (uploaded by `podwarden run` over the volume's S3 API, skipped when
            unchanged) or an `https://` URL (fetched by the pod before the command, once).
        path (str): Where on the volume, relative to its root (the pod sees it under `/workspace`).
    """

    source: str
    path: str

    def to_dict(self) -> dict[str, Any]:
        source = self.source

        path = self.path

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "source": source,
                "path": path,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        source = d.pop("source")

        path = d.pop("path")

        input_ = cls(
            source=source,
            path=path,
        )

        return input_
