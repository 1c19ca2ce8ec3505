from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.quantization import Quantization
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.lora_spec import LoraSpec


T = TypeVar("T", bound="FinetuneSpec")


@_attrs_define
class FinetuneSpec:
    """`[finetune]`: what to fine-tune on what.

    Attributes:
        model (str): Hugging Face model id, e.g. `meta-llama/Llama-3.2-1B`.
        dataset_url (None | str | Unset): `http(s)://` URL of a JSON or JSON Lines dataset (fetched by the pod).
        dataset_path (None | str | Unset): Or an absolute path in the pod: a file on the job's network volume, e.g. one
            an
            `[[inputs]]` entry uploads (`/workspace/data/train.jsonl`).
        text_field (str | Unset): Field of each record holding the training text (default `text`).
        epochs (float | Unset):
        batch_size (int | Unset):
        gradient_accumulation_steps (int | Unset):
        learning_rate (float | Unset):
        max_seq_length (int | Unset):
        quantization (Quantization | Unset): Weight quantization while training (QLoRA with `4bit`).
        gradient_checkpointing (bool | Unset): Trade compute for memory (default true).
        logging_steps (int | Unset): Log (and post metrics) every this many steps (default 10).
        output_dir (str | Unset): Where the adapter and tokenizer are saved (default `/workspace/fine_tuned_model`).
            With a
            network volume it must be on it (under `/workspace`): the pod's own disk is destroyed at
            teardown.
        push_to_hub (None | str | Unset): Also push the adapter and tokenizer to this Hugging Face Hub repository
            (`owner/name`,
            private when created), with the token in `hf_token_env`.
        hf_token_env (None | str | Unset): Secret-free env var holding a Hugging Face token for gated models (the token
            itself
            goes in the spec's `env`).
        lora (LoraSpec | Unset): LoRA adapter settings.
    """

    model: str
    dataset_url: None | str | Unset = UNSET
    dataset_path: None | str | Unset = UNSET
    text_field: str | Unset = UNSET
    epochs: float | Unset = UNSET
    batch_size: int | Unset = UNSET
    gradient_accumulation_steps: int | Unset = UNSET
    learning_rate: float | Unset = UNSET
    max_seq_length: int | Unset = UNSET
    quantization: Quantization | Unset = UNSET
    gradient_checkpointing: bool | Unset = UNSET
    logging_steps: int | Unset = UNSET
    output_dir: str | Unset = UNSET
    push_to_hub: None | str | Unset = UNSET
    hf_token_env: None | str | Unset = UNSET
    lora: LoraSpec | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        model = self.model

        dataset_url: None | str | Unset
        if isinstance(self.dataset_url, Unset):
            dataset_url = UNSET
        else:
            dataset_url = self.dataset_url

        dataset_path: None | str | Unset
        if isinstance(self.dataset_path, Unset):
            dataset_path = UNSET
        else:
            dataset_path = self.dataset_path

        text_field = self.text_field

        epochs = self.epochs

        batch_size = self.batch_size

        gradient_accumulation_steps = self.gradient_accumulation_steps

        learning_rate = self.learning_rate

        max_seq_length = self.max_seq_length

        quantization: str | Unset = UNSET
        if not isinstance(self.quantization, Unset):
            quantization = self.quantization.value

        gradient_checkpointing = self.gradient_checkpointing

        logging_steps = self.logging_steps

        output_dir = self.output_dir

        push_to_hub: None | str | Unset
        if isinstance(self.push_to_hub, Unset):
            push_to_hub = UNSET
        else:
            push_to_hub = self.push_to_hub

        hf_token_env: None | str | Unset
        if isinstance(self.hf_token_env, Unset):
            hf_token_env = UNSET
        else:
            hf_token_env = self.hf_token_env

        lora: dict[str, Any] | Unset = UNSET
        if not isinstance(self.lora, Unset):
            lora = self.lora.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model": model,
            }
        )
        if dataset_url is not UNSET:
            field_dict["dataset_url"] = dataset_url
        if dataset_path is not UNSET:
            field_dict["dataset_path"] = dataset_path
        if text_field is not UNSET:
            field_dict["text_field"] = text_field
        if epochs is not UNSET:
            field_dict["epochs"] = epochs
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if gradient_accumulation_steps is not UNSET:
            field_dict["gradient_accumulation_steps"] = gradient_accumulation_steps
        if learning_rate is not UNSET:
            field_dict["learning_rate"] = learning_rate
        if max_seq_length is not UNSET:
            field_dict["max_seq_length"] = max_seq_length
        if quantization is not UNSET:
            field_dict["quantization"] = quantization
        if gradient_checkpointing is not UNSET:
            field_dict["gradient_checkpointing"] = gradient_checkpointing
        if logging_steps is not UNSET:
            field_dict["logging_steps"] = logging_steps
        if output_dir is not UNSET:
            field_dict["output_dir"] = output_dir
        if push_to_hub is not UNSET:
            field_dict["push_to_hub"] = push_to_hub
        if hf_token_env is not UNSET:
            field_dict["hf_token_env"] = hf_token_env
        if lora is not UNSET:
            field_dict["lora"] = lora

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.lora_spec import LoraSpec

        d = dict(src_dict)
        model = d.pop("model")

        def _parse_dataset_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dataset_url = _parse_dataset_url(d.pop("dataset_url", UNSET))

        def _parse_dataset_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dataset_path = _parse_dataset_path(d.pop("dataset_path", UNSET))

        text_field = d.pop("text_field", UNSET)

        epochs = d.pop("epochs", UNSET)

        batch_size = d.pop("batch_size", UNSET)

        gradient_accumulation_steps = d.pop("gradient_accumulation_steps", UNSET)

        learning_rate = d.pop("learning_rate", UNSET)

        max_seq_length = d.pop("max_seq_length", UNSET)

        _quantization = d.pop("quantization", UNSET)
        quantization: Quantization | Unset
        if isinstance(_quantization, Unset):
            quantization = UNSET
        else:
            quantization = Quantization(_quantization)

        gradient_checkpointing = d.pop("gradient_checkpointing", UNSET)

        logging_steps = d.pop("logging_steps", UNSET)

        output_dir = d.pop("output_dir", UNSET)

        def _parse_push_to_hub(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        push_to_hub = _parse_push_to_hub(d.pop("push_to_hub", UNSET))

        def _parse_hf_token_env(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        hf_token_env = _parse_hf_token_env(d.pop("hf_token_env", UNSET))

        _lora = d.pop("lora", UNSET)
        lora: LoraSpec | Unset
        if isinstance(_lora, Unset):
            lora = UNSET
        else:
            lora = LoraSpec.from_dict(_lora)

        finetune_spec = cls(
            model=model,
            dataset_url=dataset_url,
            dataset_path=dataset_path,
            text_field=text_field,
            epochs=epochs,
            batch_size=batch_size,
            gradient_accumulation_steps=gradient_accumulation_steps,
            learning_rate=learning_rate,
            max_seq_length=max_seq_length,
            quantization=quantization,
            gradient_checkpointing=gradient_checkpointing,
            logging_steps=logging_steps,
            output_dir=output_dir,
            push_to_hub=push_to_hub,
            hf_token_env=hf_token_env,
            lora=lora,
        )

        return finetune_spec
