from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="InviteView")


@_attrs_define
class InviteView:
    """An invite as listed (never its code).

    Attributes:
        id (str):
        note (str):
        created_at (int):
        expires_at (int):
        spend_cap_usd (float | None | Unset):
        redeemed_by (None | str | Unset): The user it created, once redeemed.
    """

    id: str
    note: str
    created_at: int
    expires_at: int
    spend_cap_usd: float | None | Unset = UNSET
    redeemed_by: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        note = self.note

        created_at = self.created_at

        expires_at = self.expires_at

        spend_cap_usd: float | None | Unset
        if isinstance(self.spend_cap_usd, Unset):
            spend_cap_usd = UNSET
        else:
            spend_cap_usd = self.spend_cap_usd

        redeemed_by: None | str | Unset
        if isinstance(self.redeemed_by, Unset):
            redeemed_by = UNSET
        else:
            redeemed_by = self.redeemed_by

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "note": note,
                "created_at": created_at,
                "expires_at": expires_at,
            }
        )
        if spend_cap_usd is not UNSET:
            field_dict["spend_cap_usd"] = spend_cap_usd
        if redeemed_by is not UNSET:
            field_dict["redeemed_by"] = redeemed_by

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        note = d.pop("note")

        created_at = d.pop("created_at")

        expires_at = d.pop("expires_at")

        def _parse_spend_cap_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spend_cap_usd = _parse_spend_cap_usd(d.pop("spend_cap_usd", UNSET))

        def _parse_redeemed_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        redeemed_by = _parse_redeemed_by(d.pop("redeemed_by", UNSET))

        invite_view = cls(
            id=id,
            note=note,
            created_at=created_at,
            expires_at=expires_at,
            spend_cap_usd=spend_cap_usd,
            redeemed_by=redeemed_by,
        )

        invite_view.additional_properties = d
        return invite_view

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
