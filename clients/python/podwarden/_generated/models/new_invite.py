from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NewInvite")


@_attrs_define
class NewInvite:
    """`POST /api/v1/invites` (admin): an invite code for one new user.

    Attributes:
        spend_cap_usd (float | None | Unset): The new user's cap on hosted spend, USD (default: the operator's
            `PODWARDEN_DEFAULT_SPEND_CAP_USD`, if set).
        expires_in (None | str | Unset): How long the code stays valid, e.g. `"7d"` (default 7 days, at most 90).
        note (None | str | Unset): Whom it is for (shown in the invite list).
    """

    spend_cap_usd: float | None | Unset = UNSET
    expires_in: None | str | Unset = UNSET
    note: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        spend_cap_usd: float | None | Unset
        if isinstance(self.spend_cap_usd, Unset):
            spend_cap_usd = UNSET
        else:
            spend_cap_usd = self.spend_cap_usd

        expires_in: None | str | Unset
        if isinstance(self.expires_in, Unset):
            expires_in = UNSET
        else:
            expires_in = self.expires_in

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if spend_cap_usd is not UNSET:
            field_dict["spend_cap_usd"] = spend_cap_usd
        if expires_in is not UNSET:
            field_dict["expires_in"] = expires_in
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_spend_cap_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spend_cap_usd = _parse_spend_cap_usd(d.pop("spend_cap_usd", UNSET))

        def _parse_expires_in(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expires_in = _parse_expires_in(d.pop("expires_in", UNSET))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        new_invite = cls(
            spend_cap_usd=spend_cap_usd,
            expires_in=expires_in,
            note=note,
        )

        return new_invite
