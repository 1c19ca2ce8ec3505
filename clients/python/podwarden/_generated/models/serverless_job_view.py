from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ServerlessJobView")


@_attrs_define
class ServerlessJobView:
    """A serverless job.

    Attributes:
        id (str):
        name (str):
        endpoint (str):
        state (str): `submitting`, `queued`, `running`, `succeeded`, `failed`, `timed_out`, `cancelled`.
        gpu (str):
        price_per_hour_usd (float):
        estimate_usd (float): Most it can cost (execution timeout + idle tail).
        cost_usd (float):
        created_at (int):
        simulated (bool):
        endpoint_id (str | Unset): The provider's endpoint it was sent to.
        reason (None | str | Unset): Why it is where it is (why it waits in the queue, why it failed).
        provider_job_id (None | str | Unset):
        delay_ms (int | None | Unset):
        execution_ms (int | None | Unset):
        output (Any | Unset): The result (or the latest progress while running).
        ended_at (int | None | Unset):
    """

    id: str
    name: str
    endpoint: str
    state: str
    gpu: str
    price_per_hour_usd: float
    estimate_usd: float
    cost_usd: float
    created_at: int
    simulated: bool
    endpoint_id: str | Unset = UNSET
    reason: None | str | Unset = UNSET
    provider_job_id: None | str | Unset = UNSET
    delay_ms: int | None | Unset = UNSET
    execution_ms: int | None | Unset = UNSET
    output: Any | Unset = UNSET
    ended_at: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        endpoint = self.endpoint

        state = self.state

        gpu = self.gpu

        price_per_hour_usd = self.price_per_hour_usd

        estimate_usd = self.estimate_usd

        cost_usd = self.cost_usd

        created_at = self.created_at

        simulated = self.simulated

        endpoint_id = self.endpoint_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        provider_job_id: None | str | Unset
        if isinstance(self.provider_job_id, Unset):
            provider_job_id = UNSET
        else:
            provider_job_id = self.provider_job_id

        delay_ms: int | None | Unset
        if isinstance(self.delay_ms, Unset):
            delay_ms = UNSET
        else:
            delay_ms = self.delay_ms

        execution_ms: int | None | Unset
        if isinstance(self.execution_ms, Unset):
            execution_ms = UNSET
        else:
            execution_ms = self.execution_ms

        output = self.output

        ended_at: int | None | Unset
        if isinstance(self.ended_at, Unset):
            ended_at = UNSET
        else:
            ended_at = self.ended_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "endpoint": endpoint,
                "state": state,
                "gpu": gpu,
                "price_per_hour_usd": price_per_hour_usd,
                "estimate_usd": estimate_usd,
                "cost_usd": cost_usd,
                "created_at": created_at,
                "simulated": simulated,
            }
        )
        if endpoint_id is not UNSET:
            field_dict["endpoint_id"] = endpoint_id
        if reason is not UNSET:
            field_dict["reason"] = reason
        if provider_job_id is not UNSET:
            field_dict["provider_job_id"] = provider_job_id
        if delay_ms is not UNSET:
            field_dict["delay_ms"] = delay_ms
        if execution_ms is not UNSET:
            field_dict["execution_ms"] = execution_ms
        if output is not UNSET:
            field_dict["output"] = output
        if ended_at is not UNSET:
            field_dict["ended_at"] = ended_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        endpoint = d.pop("endpoint")

        state = d.pop("state")

        gpu = d.pop("gpu")

        price_per_hour_usd = d.pop("price_per_hour_usd")

        estimate_usd = d.pop("estimate_usd")

        cost_usd = d.pop("cost_usd")

        created_at = d.pop("created_at")

        simulated = d.pop("simulated")

        endpoint_id = d.pop("endpoint_id", UNSET)

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_provider_job_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider_job_id = _parse_provider_job_id(d.pop("provider_job_id", UNSET))

        def _parse_delay_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        delay_ms = _parse_delay_ms(d.pop("delay_ms", UNSET))

        def _parse_execution_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        execution_ms = _parse_execution_ms(d.pop("execution_ms", UNSET))

        output = d.pop("output", UNSET)

        def _parse_ended_at(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ended_at = _parse_ended_at(d.pop("ended_at", UNSET))

        serverless_job_view = cls(
            id=id,
            name=name,
            endpoint=endpoint,
            state=state,
            gpu=gpu,
            price_per_hour_usd=price_per_hour_usd,
            estimate_usd=estimate_usd,
            cost_usd=cost_usd,
            created_at=created_at,
            simulated=simulated,
            endpoint_id=endpoint_id,
            reason=reason,
            provider_job_id=provider_job_id,
            delay_ms=delay_ms,
            execution_ms=execution_ms,
            output=output,
            ended_at=ended_at,
        )

        serverless_job_view.additional_properties = d
        return serverless_job_view

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
