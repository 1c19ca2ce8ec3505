from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.endpoint_gpu import EndpointGpu
    from ..models.endpoint_spec_env import EndpointSpecEnv
    from ..models.workers import Workers


T = TypeVar("T", bound="EndpointSpec")


@_attrs_define
class EndpointSpec:
    """An endpoint spec.

    Attributes:
        name (str): Your name for it (lowercase letters, digits, `-`); unique per user.
        image (str):
        registry_auth (None | str | Unset): A private image's pull credential: a container registry credential id of the
            RunPod
            account the endpoint lives on (REST v2's `registry`).
        command (None | str | Unset): The worker's command (default: the image's own).
        env (EndpointSpecEnv | Unset):
        gpu (EndpointGpu | Unset): GPU pools the workers may run on.
        workers (Workers | Unset): Worker scaling.
        execution_timeout (str | Unset): A job running longer fails and its worker is stopped (default 2 h, for
            training-style
            jobs; RunPod's own default is 10 min). Default: '2h'. Example: 2h.
        flashboot (bool | Unset):
        network_volume (None | str | Unset):
        disk_gb (int | None | Unset):
        user_field (None | str | Unset): An input field podwarden sets to the caller's user id on every job, overwriting
            what
            the caller sent, so a worker that keys storage by it (the tabular worker's `user`)
            serves each user only their own prefix.
    """

    name: str
    image: str
    registry_auth: None | str | Unset = UNSET
    command: None | str | Unset = UNSET
    env: EndpointSpecEnv | Unset = UNSET
    gpu: EndpointGpu | Unset = UNSET
    workers: Workers | Unset = UNSET
    execution_timeout: str | Unset = "2h"
    flashboot: bool | Unset = UNSET
    network_volume: None | str | Unset = UNSET
    disk_gb: int | None | Unset = UNSET
    user_field: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        image = self.image

        registry_auth: None | str | Unset
        if isinstance(self.registry_auth, Unset):
            registry_auth = UNSET
        else:
            registry_auth = self.registry_auth

        command: None | str | Unset
        if isinstance(self.command, Unset):
            command = UNSET
        else:
            command = self.command

        env: dict[str, Any] | Unset = UNSET
        if not isinstance(self.env, Unset):
            env = self.env.to_dict()

        gpu: dict[str, Any] | Unset = UNSET
        if not isinstance(self.gpu, Unset):
            gpu = self.gpu.to_dict()

        workers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.workers, Unset):
            workers = self.workers.to_dict()

        execution_timeout = self.execution_timeout

        flashboot = self.flashboot

        network_volume: None | str | Unset
        if isinstance(self.network_volume, Unset):
            network_volume = UNSET
        else:
            network_volume = self.network_volume

        disk_gb: int | None | Unset
        if isinstance(self.disk_gb, Unset):
            disk_gb = UNSET
        else:
            disk_gb = self.disk_gb

        user_field: None | str | Unset
        if isinstance(self.user_field, Unset):
            user_field = UNSET
        else:
            user_field = self.user_field

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "image": image,
            }
        )
        if registry_auth is not UNSET:
            field_dict["registry_auth"] = registry_auth
        if command is not UNSET:
            field_dict["command"] = command
        if env is not UNSET:
            field_dict["env"] = env
        if gpu is not UNSET:
            field_dict["gpu"] = gpu
        if workers is not UNSET:
            field_dict["workers"] = workers
        if execution_timeout is not UNSET:
            field_dict["execution_timeout"] = execution_timeout
        if flashboot is not UNSET:
            field_dict["flashboot"] = flashboot
        if network_volume is not UNSET:
            field_dict["network_volume"] = network_volume
        if disk_gb is not UNSET:
            field_dict["disk_gb"] = disk_gb
        if user_field is not UNSET:
            field_dict["user_field"] = user_field

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.endpoint_gpu import EndpointGpu
        from ..models.endpoint_spec_env import EndpointSpecEnv
        from ..models.workers import Workers

        d = dict(src_dict)
        name = d.pop("name")

        image = d.pop("image")

        def _parse_registry_auth(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        registry_auth = _parse_registry_auth(d.pop("registry_auth", UNSET))

        def _parse_command(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        command = _parse_command(d.pop("command", UNSET))

        _env = d.pop("env", UNSET)
        env: EndpointSpecEnv | Unset
        if isinstance(_env, Unset):
            env = UNSET
        else:
            env = EndpointSpecEnv.from_dict(_env)

        _gpu = d.pop("gpu", UNSET)
        gpu: EndpointGpu | Unset
        if isinstance(_gpu, Unset):
            gpu = UNSET
        else:
            gpu = EndpointGpu.from_dict(_gpu)

        _workers = d.pop("workers", UNSET)
        workers: Workers | Unset
        if isinstance(_workers, Unset):
            workers = UNSET
        else:
            workers = Workers.from_dict(_workers)

        execution_timeout = d.pop("execution_timeout", UNSET)

        flashboot = d.pop("flashboot", UNSET)

        def _parse_network_volume(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        network_volume = _parse_network_volume(d.pop("network_volume", UNSET))

        def _parse_disk_gb(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        disk_gb = _parse_disk_gb(d.pop("disk_gb", UNSET))

        def _parse_user_field(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        user_field = _parse_user_field(d.pop("user_field", UNSET))

        endpoint_spec = cls(
            name=name,
            image=image,
            registry_auth=registry_auth,
            command=command,
            env=env,
            gpu=gpu,
            workers=workers,
            execution_timeout=execution_timeout,
            flashboot=flashboot,
            network_volume=network_volume,
            disk_gb=disk_gb,
            user_field=user_field,
        )

        return endpoint_spec
