from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.billing_check_view import BillingCheckView


T = TypeVar("T", bound="Reconciliation")


@_attrs_define
class Reconciliation:
    """The ledger against RunPod's bill.

    Attributes:
        checked_now (int): Pods checked by this request (`POST`), 0 for `GET`.
        checks (list[BillingCheckView]): Checks so far, newest first (at most 1,000).
        mismatches (int): Checks that found a difference.
        overcounted_usd (float): Sum of (ours − theirs) over the checks: what the ledger over-counted before correction.
    """

    checked_now: int
    checks: list[BillingCheckView]
    mismatches: int
    overcounted_usd: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checked_now = self.checked_now

        checks = []
        for checks_item_data in self.checks:
            checks_item = checks_item_data.to_dict()
            checks.append(checks_item)

        mismatches = self.mismatches

        overcounted_usd = self.overcounted_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checked_now": checked_now,
                "checks": checks,
                "mismatches": mismatches,
                "overcounted_usd": overcounted_usd,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.billing_check_view import BillingCheckView

        d = dict(src_dict)
        checked_now = d.pop("checked_now")

        checks = []
        _checks = d.pop("checks")
        for checks_item_data in _checks:
            checks_item = BillingCheckView.from_dict(checks_item_data)

            checks.append(checks_item)

        mismatches = d.pop("mismatches")

        overcounted_usd = d.pop("overcounted_usd")

        reconciliation = cls(
            checked_now=checked_now,
            checks=checks,
            mismatches=mismatches,
            overcounted_usd=overcounted_usd,
        )

        reconciliation.additional_properties = d
        return reconciliation

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
