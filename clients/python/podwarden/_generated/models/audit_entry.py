from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AuditEntry")


@_attrs_define
class AuditEntry:
    """One storage operation (`GET /api/v1/audit`).

    Attributes:
        id (int):
        at (int): ms since the epoch.
        user (str):
        op (str): `volume_create`, `volume_remove`, `s3_access`, `upload`, `download`.
        volume (str):
        result (str): `ok`, or what went wrong.
        path (None | str | Unset):
        bytes_ (int | None | Unset):
    """

    id: int
    at: int
    user: str
    op: str
    volume: str
    result: str
    path: None | str | Unset = UNSET
    bytes_: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        at = self.at

        user = self.user

        op = self.op

        volume = self.volume

        result = self.result

        path: None | str | Unset
        if isinstance(self.path, Unset):
            path = UNSET
        else:
            path = self.path

        bytes_: int | None | Unset
        if isinstance(self.bytes_, Unset):
            bytes_ = UNSET
        else:
            bytes_ = self.bytes_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "at": at,
                "user": user,
                "op": op,
                "volume": volume,
                "result": result,
            }
        )
        if path is not UNSET:
            field_dict["path"] = path
        if bytes_ is not UNSET:
            field_dict["bytes"] = bytes_

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        at = d.pop("at")

        user = d.pop("user")

        op = d.pop("op")

        volume = d.pop("volume")

        result = d.pop("result")

        def _parse_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        path = _parse_path(d.pop("path", UNSET))

        def _parse_bytes_(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        bytes_ = _parse_bytes_(d.pop("bytes", UNSET))

        audit_entry = cls(
            id=id,
            at=at,
            user=user,
            op=op,
            volume=volume,
            result=result,
            path=path,
            bytes_=bytes_,
        )

        audit_entry.additional_properties = d
        return audit_entry

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
