from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="TransferReport")


@_attrs_define
class TransferReport:
    """A transfer `podwarden cp` reports (`POST /api/v1/volumes/{name}/transfers`).

    Attributes:
        op (str): `upload` or `download`.
        path (str):
        bytes_ (int):
        result (str): `ok`, or what went wrong.
    """

    op: str
    path: str
    bytes_: int
    result: str

    def to_dict(self) -> dict[str, Any]:
        op = self.op

        path = self.path

        bytes_ = self.bytes_

        result = self.result

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "op": op,
                "path": path,
                "bytes": bytes_,
                "result": result,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        op = d.pop("op")

        path = d.pop("path")

        bytes_ = d.pop("bytes")

        result = d.pop("result")

        transfer_report = cls(
            op=op,
            path=path,
            bytes_=bytes_,
            result=result,
        )

        return transfer_report
