from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CostReport")


@_attrs_define
class CostReport:
    """`GET /api/v1/cost`.

    Attributes:
        total_usd (float):
        by_job (list[list[Any]]): `[job id, job name, USD]`, per job.
        by_gpu (list[list[Any]]): `[GPU type, USD]`.
        by_day (list[list[Any]]): `[YYYY-MM-DD, USD]`.
        simulated (bool):
        awaiting_bills (int | Unset): Ended pods whose cost awaits the provider's bill: their figures are podwarden's
            own and
            may still change once RunPod's billing (which lags) is read.
    """

    total_usd: float
    by_job: list[list[Any]]
    by_gpu: list[list[Any]]
    by_day: list[list[Any]]
    simulated: bool
    awaiting_bills: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total_usd = self.total_usd

        by_job = []
        for by_job_item_data in self.by_job:
            by_job_item = by_job_item_data

            by_job.append(by_job_item)

        by_gpu = []
        for by_gpu_item_data in self.by_gpu:
            by_gpu_item = by_gpu_item_data

            by_gpu.append(by_gpu_item)

        by_day = []
        for by_day_item_data in self.by_day:
            by_day_item = by_day_item_data

            by_day.append(by_day_item)

        simulated = self.simulated

        awaiting_bills = self.awaiting_bills

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total_usd": total_usd,
                "by_job": by_job,
                "by_gpu": by_gpu,
                "by_day": by_day,
                "simulated": simulated,
            }
        )
        if awaiting_bills is not UNSET:
            field_dict["awaiting_bills"] = awaiting_bills

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        total_usd = d.pop("total_usd")

        by_job = []
        _by_job = d.pop("by_job")
        for by_job_item_data in _by_job:
            by_job_item = cast(list[Any], by_job_item_data)

            by_job.append(by_job_item)

        by_gpu = []
        _by_gpu = d.pop("by_gpu")
        for by_gpu_item_data in _by_gpu:
            by_gpu_item = cast(list[Any], by_gpu_item_data)

            by_gpu.append(by_gpu_item)

        by_day = []
        _by_day = d.pop("by_day")
        for by_day_item_data in _by_day:
            by_day_item = cast(list[Any], by_day_item_data)

            by_day.append(by_day_item)

        simulated = d.pop("simulated")

        awaiting_bills = d.pop("awaiting_bills", UNSET)

        cost_report = cls(
            total_usd=total_usd,
            by_job=by_job,
            by_gpu=by_gpu,
            by_day=by_day,
            simulated=simulated,
            awaiting_bills=awaiting_bills,
        )

        cost_report.additional_properties = d
        return cost_report

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
