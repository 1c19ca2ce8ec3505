from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ComputeSettings")


@_attrs_define
class ComputeSettings:
    """`GET|POST|DELETE /api/v1/settings/runpod-key`: which compute backend the user is on. The
    key itself is never returned, only its last 4 characters.

        Attributes:
            backend (str): `hosted` (the operator's key) or `runpod` (the user's own).
            endpoint_status (str): The user's serverless endpoint on their own account: `none` until it is created.
            last4 (None | str | Unset):
            spend_cap_usd (float | None | Unset): The operator's cap on hosted spend (none: no cap).
            hosted_committed_usd (float | Unset): Hosted spend so far plus what running hosted jobs have reserved (their
                budgets).
    """

    backend: str
    endpoint_status: str
    last4: None | str | Unset = UNSET
    spend_cap_usd: float | None | Unset = UNSET
    hosted_committed_usd: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        backend = self.backend

        endpoint_status = self.endpoint_status

        last4: None | str | Unset
        if isinstance(self.last4, Unset):
            last4 = UNSET
        else:
            last4 = self.last4

        spend_cap_usd: float | None | Unset
        if isinstance(self.spend_cap_usd, Unset):
            spend_cap_usd = UNSET
        else:
            spend_cap_usd = self.spend_cap_usd

        hosted_committed_usd = self.hosted_committed_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "backend": backend,
                "endpoint_status": endpoint_status,
            }
        )
        if last4 is not UNSET:
            field_dict["last4"] = last4
        if spend_cap_usd is not UNSET:
            field_dict["spend_cap_usd"] = spend_cap_usd
        if hosted_committed_usd is not UNSET:
            field_dict["hosted_committed_usd"] = hosted_committed_usd

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        backend = d.pop("backend")

        endpoint_status = d.pop("endpoint_status")

        def _parse_last4(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last4 = _parse_last4(d.pop("last4", UNSET))

        def _parse_spend_cap_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spend_cap_usd = _parse_spend_cap_usd(d.pop("spend_cap_usd", UNSET))

        hosted_committed_usd = d.pop("hosted_committed_usd", UNSET)

        compute_settings = cls(
            backend=backend,
            endpoint_status=endpoint_status,
            last4=last4,
            spend_cap_usd=spend_cap_usd,
            hosted_committed_usd=hosted_committed_usd,
        )

        compute_settings.additional_properties = d
        return compute_settings

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
