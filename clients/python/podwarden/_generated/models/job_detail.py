from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attempt_view import AttemptView


T = TypeVar("T", bound="JobDetail")


@_attrs_define
class JobDetail:
    """A job in detail.

    Attributes:
        id (str):
        name (str):
        state (str):
        created_at (int):
        spent_usd (float):
        attempts_made (int):
        attempts (list[AttemptView]):
        simulated (bool): Provider costs are simulated (embedded emulator).
        reason (None | str | Unset): Why it is where it is (last transition's reason).
        gpu (None | str | Unset):
        started_at (int | None | Unset):
        budget_usd (float | None | Unset):
        exit_code (int | None | Unset):
        ended_at (int | None | Unset): When it settled (final states only).
        backend (str | Unset): Whose RunPod account it runs on: `hosted` (the operator's) or `runpod` (the owner's key).
        kind (str | Unset): `command` or `finetune`.
        image (str | Unset):
        command (str | Unset): The command the pod runs (for `finetune`: the model and dataset).
    """

    id: str
    name: str
    state: str
    created_at: int
    spent_usd: float
    attempts_made: int
    attempts: list[AttemptView]
    simulated: bool
    reason: None | str | Unset = UNSET
    gpu: None | str | Unset = UNSET
    started_at: int | None | Unset = UNSET
    budget_usd: float | None | Unset = UNSET
    exit_code: int | None | Unset = UNSET
    ended_at: int | None | Unset = UNSET
    backend: str | Unset = UNSET
    kind: str | Unset = UNSET
    image: str | Unset = UNSET
    command: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        state = self.state

        created_at = self.created_at

        spent_usd = self.spent_usd

        attempts_made = self.attempts_made

        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)

        simulated = self.simulated

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        gpu: None | str | Unset
        if isinstance(self.gpu, Unset):
            gpu = UNSET
        else:
            gpu = self.gpu

        started_at: int | None | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        else:
            started_at = self.started_at

        budget_usd: float | None | Unset
        if isinstance(self.budget_usd, Unset):
            budget_usd = UNSET
        else:
            budget_usd = self.budget_usd

        exit_code: int | None | Unset
        if isinstance(self.exit_code, Unset):
            exit_code = UNSET
        else:
            exit_code = self.exit_code

        ended_at: int | None | Unset
        if isinstance(self.ended_at, Unset):
            ended_at = UNSET
        else:
            ended_at = self.ended_at

        backend = self.backend

        kind = self.kind

        image = self.image

        command = self.command

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "state": state,
                "created_at": created_at,
                "spent_usd": spent_usd,
                "attempts_made": attempts_made,
                "attempts": attempts,
                "simulated": simulated,
            }
        )
        if reason is not UNSET:
            field_dict["reason"] = reason
        if gpu is not UNSET:
            field_dict["gpu"] = gpu
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if budget_usd is not UNSET:
            field_dict["budget_usd"] = budget_usd
        if exit_code is not UNSET:
            field_dict["exit_code"] = exit_code
        if ended_at is not UNSET:
            field_dict["ended_at"] = ended_at
        if backend is not UNSET:
            field_dict["backend"] = backend
        if kind is not UNSET:
            field_dict["kind"] = kind
        if image is not UNSET:
            field_dict["image"] = image
        if command is not UNSET:
            field_dict["command"] = command

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.attempt_view import AttemptView

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        state = d.pop("state")

        created_at = d.pop("created_at")

        spent_usd = d.pop("spent_usd")

        attempts_made = d.pop("attempts_made")

        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in _attempts:
            attempts_item = AttemptView.from_dict(attempts_item_data)

            attempts.append(attempts_item)

        simulated = d.pop("simulated")

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_gpu(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        gpu = _parse_gpu(d.pop("gpu", UNSET))

        def _parse_started_at(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))

        def _parse_budget_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        budget_usd = _parse_budget_usd(d.pop("budget_usd", UNSET))

        def _parse_exit_code(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        exit_code = _parse_exit_code(d.pop("exit_code", UNSET))

        def _parse_ended_at(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ended_at = _parse_ended_at(d.pop("ended_at", UNSET))

        backend = d.pop("backend", UNSET)

        kind = d.pop("kind", UNSET)

        image = d.pop("image", UNSET)

        command = d.pop("command", UNSET)

        job_detail = cls(
            id=id,
            name=name,
            state=state,
            created_at=created_at,
            spent_usd=spent_usd,
            attempts_made=attempts_made,
            attempts=attempts,
            simulated=simulated,
            reason=reason,
            gpu=gpu,
            started_at=started_at,
            budget_usd=budget_usd,
            exit_code=exit_code,
            ended_at=ended_at,
            backend=backend,
            kind=kind,
            image=image,
            command=command,
        )

        job_detail.additional_properties = d
        return job_detail

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
