from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BillingCheckView")


@_attrs_define
class BillingCheckView:
    """One pod's cost checked against RunPod's bill (`/api/v1/cost/reconciliation`).

    Attributes:
        job_id (str):
        pod_id (str):
        at (int): ms since the epoch.
        ours_usd (float): What podwarden's ledger said before the check.
        theirs_usd (float): What RunPod billed (the ledger says this now).
    """

    job_id: str
    pod_id: str
    at: int
    ours_usd: float
    theirs_usd: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job_id = self.job_id

        pod_id = self.pod_id

        at = self.at

        ours_usd = self.ours_usd

        theirs_usd = self.theirs_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "job_id": job_id,
                "pod_id": pod_id,
                "at": at,
                "ours_usd": ours_usd,
                "theirs_usd": theirs_usd,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        job_id = d.pop("job_id")

        pod_id = d.pop("pod_id")

        at = d.pop("at")

        ours_usd = d.pop("ours_usd")

        theirs_usd = d.pop("theirs_usd")

        billing_check_view = cls(
            job_id=job_id,
            pod_id=pod_id,
            at=at,
            ours_usd=ours_usd,
            theirs_usd=theirs_usd,
        )

        billing_check_view.additional_properties = d
        return billing_check_view

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
