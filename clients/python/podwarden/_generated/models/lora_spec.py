from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LoraSpec")


@_attrs_define
class LoraSpec:
    """LoRA adapter settings.

    Attributes:
        r (int | Unset): Rank (default 16). Default: 16.
        alpha (int | Unset): Scaling (default 32). Default: 32.
        dropout (float | Unset): Dropout (default 0.05). Default: 0.05.
        target_modules (list[str] | Unset): Modules to adapt; empty: detected from the model's architecture.
        bias (str | Unset): `none`, `all` or `lora_only` (default `none`). Default: 'none'.
    """

    r: int | Unset = 16
    alpha: int | Unset = 32
    dropout: float | Unset = 0.05
    target_modules: list[str] | Unset = UNSET
    bias: str | Unset = "none"

    def to_dict(self) -> dict[str, Any]:
        r = self.r

        alpha = self.alpha

        dropout = self.dropout

        target_modules: list[str] | Unset = UNSET
        if not isinstance(self.target_modules, Unset):
            target_modules = self.target_modules

        bias = self.bias

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if r is not UNSET:
            field_dict["r"] = r
        if alpha is not UNSET:
            field_dict["alpha"] = alpha
        if dropout is not UNSET:
            field_dict["dropout"] = dropout
        if target_modules is not UNSET:
            field_dict["target_modules"] = target_modules
        if bias is not UNSET:
            field_dict["bias"] = bias

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        r = d.pop("r", UNSET)

        alpha = d.pop("alpha", UNSET)

        dropout = d.pop("dropout", UNSET)

        target_modules = cast(list[str], d.pop("target_modules", UNSET))

        bias = d.pop("bias", UNSET)

        lora_spec = cls(
            r=r,
            alpha=alpha,
            dropout=dropout,
            target_modules=target_modules,
            bias=bias,
        )

        return lora_spec
