from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.invite_view import InviteView


T = TypeVar("T", bound="NewInviteCode")


@_attrs_define
class NewInviteCode:
    """A new invite: its code is shown this once (only its hash is stored).

    Attributes:
        code (str):
        invite (InviteView): An invite as listed (never its code).
    """

    code: str
    invite: InviteView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        invite = self.invite.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "invite": invite,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.invite_view import InviteView

        d = dict(src_dict)
        code = d.pop("code")

        invite = InviteView.from_dict(d.pop("invite"))

        new_invite_code = cls(
            code=code,
            invite=invite,
        )

        new_invite_code.additional_properties = d
        return new_invite_code

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
