from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.cloud_choice import CloudChoice
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.early_stop import EarlyStop
    from ..models.finetune_spec import FinetuneSpec
    from ..models.gpu_spec import GpuSpec
    from ..models.input_ import Input
    from ..models.job_spec_env import JobSpecEnv
    from ..models.limits import Limits
    from ..models.output import Output
    from ..models.retry_policy import RetryPolicy


T = TypeVar("T", bound="JobSpec")


@_attrs_define
class JobSpec:
    """A GPU job on a pod.

    Attributes:
        name (str): Lowercase letters, digits and dashes; shown in lists and in the pod's name.
        image (str): Container image.
        registry_auth (None | str | Unset): A private image's pull credential: the id of a container registry credential
            of the
            RunPod account the job runs on (RunPod console → Settings → Container Registry Auth,
            or `POST /v2/registries`), sent as REST v2's `registry` (v1's `containerRegistryAuthId`).
        command (None | str | Unset): Shell command (`sh -c`). Exactly one of `command` and `args`.
        args (list[str] | None | Unset): Command as an argument vector (joined with shell quoting).
        env (JobSpecEnv | Unset):
        ports (list[str] | Unset): Exposed ports, `8888/http` or `22/tcp`.
        gpu (GpuSpec | Unset): GPU selection: preferred types in order, or requirements (cheapest that fits wins).
        cloud (CloudChoice | Unset): Which RunPod cloud a pod may run in.
        data_centers (list[str] | Unset): Allowed data centers (empty: any).
        disk_gb (int | Unset): Container disk, GB.
        volume_gb (int | Unset): Pod volume at `/workspace`, GB (0: none).
        network_volume (None | str | Unset): A network volume id to mount at `/workspace` instead.
        limits (Limits | Unset): Limits enforced by the control plane (and again inside the pod).
        retry (RetryPolicy | Unset): What to do when a pod is preempted or no capacity is found.
        early_stop (EarlyStop | None | Unset):
        finetune (FinetuneSpec | None | Unset):
        inputs (list[Input] | Unset): Files the job reads, put on its network volume before it runs.
        outputs (list[Output] | Unset): Files the job writes on its network volume; the job succeeds only when every one
            exists.
    """

    name: str
    image: str
    registry_auth: None | str | Unset = UNSET
    command: None | str | Unset = UNSET
    args: list[str] | None | Unset = UNSET
    env: JobSpecEnv | Unset = UNSET
    ports: list[str] | Unset = UNSET
    gpu: GpuSpec | Unset = UNSET
    cloud: CloudChoice | Unset = UNSET
    data_centers: list[str] | Unset = UNSET
    disk_gb: int | Unset = UNSET
    volume_gb: int | Unset = UNSET
    network_volume: None | str | Unset = UNSET
    limits: Limits | Unset = UNSET
    retry: RetryPolicy | Unset = UNSET
    early_stop: EarlyStop | None | Unset = UNSET
    finetune: FinetuneSpec | None | Unset = UNSET
    inputs: list[Input] | Unset = UNSET
    outputs: list[Output] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.early_stop import EarlyStop
        from ..models.finetune_spec import FinetuneSpec

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

        args: list[str] | None | Unset
        if isinstance(self.args, Unset):
            args = UNSET
        elif isinstance(self.args, list):
            args = self.args

        else:
            args = self.args

        env: dict[str, Any] | Unset = UNSET
        if not isinstance(self.env, Unset):
            env = self.env.to_dict()

        ports: list[str] | Unset = UNSET
        if not isinstance(self.ports, Unset):
            ports = self.ports

        gpu: dict[str, Any] | Unset = UNSET
        if not isinstance(self.gpu, Unset):
            gpu = self.gpu.to_dict()

        cloud: str | Unset = UNSET
        if not isinstance(self.cloud, Unset):
            cloud = self.cloud.value

        data_centers: list[str] | Unset = UNSET
        if not isinstance(self.data_centers, Unset):
            data_centers = self.data_centers

        disk_gb = self.disk_gb

        volume_gb = self.volume_gb

        network_volume: None | str | Unset
        if isinstance(self.network_volume, Unset):
            network_volume = UNSET
        else:
            network_volume = self.network_volume

        limits: dict[str, Any] | Unset = UNSET
        if not isinstance(self.limits, Unset):
            limits = self.limits.to_dict()

        retry: dict[str, Any] | Unset = UNSET
        if not isinstance(self.retry, Unset):
            retry = self.retry.to_dict()

        early_stop: dict[str, Any] | None | Unset
        if isinstance(self.early_stop, Unset):
            early_stop = UNSET
        elif isinstance(self.early_stop, EarlyStop):
            early_stop = self.early_stop.to_dict()
        else:
            early_stop = self.early_stop

        finetune: dict[str, Any] | None | Unset
        if isinstance(self.finetune, Unset):
            finetune = UNSET
        elif isinstance(self.finetune, FinetuneSpec):
            finetune = self.finetune.to_dict()
        else:
            finetune = self.finetune

        inputs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.inputs, Unset):
            inputs = []
            for inputs_item_data in self.inputs:
                inputs_item = inputs_item_data.to_dict()
                inputs.append(inputs_item)

        outputs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.outputs, Unset):
            outputs = []
            for outputs_item_data in self.outputs:
                outputs_item = outputs_item_data.to_dict()
                outputs.append(outputs_item)

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
        if args is not UNSET:
            field_dict["args"] = args
        if env is not UNSET:
            field_dict["env"] = env
        if ports is not UNSET:
            field_dict["ports"] = ports
        if gpu is not UNSET:
            field_dict["gpu"] = gpu
        if cloud is not UNSET:
            field_dict["cloud"] = cloud
        if data_centers is not UNSET:
            field_dict["data_centers"] = data_centers
        if disk_gb is not UNSET:
            field_dict["disk_gb"] = disk_gb
        if volume_gb is not UNSET:
            field_dict["volume_gb"] = volume_gb
        if network_volume is not UNSET:
            field_dict["network_volume"] = network_volume
        if limits is not UNSET:
            field_dict["limits"] = limits
        if retry is not UNSET:
            field_dict["retry"] = retry
        if early_stop is not UNSET:
            field_dict["early_stop"] = early_stop
        if finetune is not UNSET:
            field_dict["finetune"] = finetune
        if inputs is not UNSET:
            field_dict["inputs"] = inputs
        if outputs is not UNSET:
            field_dict["outputs"] = outputs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.early_stop import EarlyStop
        from ..models.finetune_spec import FinetuneSpec
        from ..models.gpu_spec import GpuSpec
        from ..models.input_ import Input
        from ..models.job_spec_env import JobSpecEnv
        from ..models.limits import Limits
        from ..models.output import Output
        from ..models.retry_policy import RetryPolicy

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

        def _parse_args(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                args_type_0 = cast(list[str], data)

                return args_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        args = _parse_args(d.pop("args", UNSET))

        _env = d.pop("env", UNSET)
        env: JobSpecEnv | Unset
        if isinstance(_env, Unset):
            env = UNSET
        else:
            env = JobSpecEnv.from_dict(_env)

        ports = cast(list[str], d.pop("ports", UNSET))

        _gpu = d.pop("gpu", UNSET)
        gpu: GpuSpec | Unset
        if isinstance(_gpu, Unset):
            gpu = UNSET
        else:
            gpu = GpuSpec.from_dict(_gpu)

        _cloud = d.pop("cloud", UNSET)
        cloud: CloudChoice | Unset
        if isinstance(_cloud, Unset):
            cloud = UNSET
        else:
            cloud = CloudChoice(_cloud)

        data_centers = cast(list[str], d.pop("data_centers", UNSET))

        disk_gb = d.pop("disk_gb", UNSET)

        volume_gb = d.pop("volume_gb", UNSET)

        def _parse_network_volume(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        network_volume = _parse_network_volume(d.pop("network_volume", UNSET))

        _limits = d.pop("limits", UNSET)
        limits: Limits | Unset
        if isinstance(_limits, Unset):
            limits = UNSET
        else:
            limits = Limits.from_dict(_limits)

        _retry = d.pop("retry", UNSET)
        retry: RetryPolicy | Unset
        if isinstance(_retry, Unset):
            retry = UNSET
        else:
            retry = RetryPolicy.from_dict(_retry)

        def _parse_early_stop(data: object) -> EarlyStop | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                early_stop_type_1 = EarlyStop.from_dict(data)

                return early_stop_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EarlyStop | None | Unset, data)

        early_stop = _parse_early_stop(d.pop("early_stop", UNSET))

        def _parse_finetune(data: object) -> FinetuneSpec | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                finetune_type_1 = FinetuneSpec.from_dict(data)

                return finetune_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FinetuneSpec | None | Unset, data)

        finetune = _parse_finetune(d.pop("finetune", UNSET))

        _inputs = d.pop("inputs", UNSET)
        inputs: list[Input] | Unset = UNSET
        if _inputs is not UNSET:
            inputs = []
            for inputs_item_data in _inputs:
                inputs_item = Input.from_dict(inputs_item_data)

                inputs.append(inputs_item)

        _outputs = d.pop("outputs", UNSET)
        outputs: list[Output] | Unset = UNSET
        if _outputs is not UNSET:
            outputs = []
            for outputs_item_data in _outputs:
                outputs_item = Output.from_dict(outputs_item_data)

                outputs.append(outputs_item)

        job_spec = cls(
            name=name,
            image=image,
            registry_auth=registry_auth,
            command=command,
            args=args,
            env=env,
            ports=ports,
            gpu=gpu,
            cloud=cloud,
            data_centers=data_centers,
            disk_gb=disk_gb,
            volume_gb=volume_gb,
            network_volume=network_volume,
            limits=limits,
            retry=retry,
            early_stop=early_stop,
            finetune=finetune,
            inputs=inputs,
            outputs=outputs,
        )

        return job_spec
