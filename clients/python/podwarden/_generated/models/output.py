from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Output")


@_attrs_define
class Output:
    """A file the job writes (`[[outputs]]`).

    Attributes:
        path (str): On the volume, relative to its root (`/workspace/<path>` in the pod).
        to (None | str | Unset): A local directory `podwarden run --follow` downloads it into once the job succeeded;
            without it the output stays on the volume (`podwarden cp` fetches it).
    """

    path: str
    to: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        to: None | str | Unset
        if isinstance(self.to, Unset):
            to = UNSET
        else:
            to = self.to

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "path": path,
            }
        )
        if to is not UNSET:
            field_dict["to"] = to

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        path = d.pop("path")

        def _parse_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        to = _parse_to(d.pop("to", UNSET))

        output = cls(
            path=path,
            to=to,
        )

        return output
