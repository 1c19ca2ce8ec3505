from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.policy import Policy


T = TypeVar("T", bound="ServerlessJobSpec")


@_attrs_define
class ServerlessJobSpec:
    """A serverless job.

    Attributes:
        endpoint (str): The endpoint's name (as deployed with `podwarden endpoint deploy`).
        input_ (Any): The handler's input (any JSON object).
        name (None | str | Unset): A label for lists (default: the endpoint's name).
        policy (Policy | Unset): RunPod's per-job policy.
    """

    endpoint: str
    input_: Any
    name: None | str | Unset = UNSET
    policy: Policy | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        endpoint = self.endpoint

        input_ = self.input_

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        policy: dict[str, Any] | Unset = UNSET
        if not isinstance(self.policy, Unset):
            policy = self.policy.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "endpoint": endpoint,
                "input": input_,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if policy is not UNSET:
            field_dict["policy"] = policy

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.policy import Policy

        d = dict(src_dict)
        endpoint = d.pop("endpoint")

        input_ = d.pop("input")

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        _policy = d.pop("policy", UNSET)
        policy: Policy | Unset
        if isinstance(_policy, Unset):
            policy = UNSET
        else:
            policy = Policy.from_dict(_policy)

        serverless_job_spec = cls(
            endpoint=endpoint,
            input_=input_,
            name=name,
            policy=policy,
        )

        return serverless_job_spec
