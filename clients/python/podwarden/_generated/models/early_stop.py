from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EarlyStop")


@_attrs_define
class EarlyStop:
    """`[early_stop]` in a job spec: stop the job when a metric diverges — is not a finite number,
    or stays above `factor` × its best (lowest) value for `patience` points in a row.

        Attributes:
            metric (str | Unset): The metric watched (default `loss`). Default: 'loss'.
            factor (float | Unset): How far above its best the metric may go, as a multiple (default 3.0). Default: 3.0.
            patience (int | Unset): Consecutive points above the line before stopping (default 3). Default: 3.
            warmup_points (int | Unset): Points seen before the rule applies (the first steps of training are noisy; default
                5). Default: 5.
    """

    metric: str | Unset = "loss"
    factor: float | Unset = 3.0
    patience: int | Unset = 3
    warmup_points: int | Unset = 5

    def to_dict(self) -> dict[str, Any]:
        metric = self.metric

        factor = self.factor

        patience = self.patience

        warmup_points = self.warmup_points

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if metric is not UNSET:
            field_dict["metric"] = metric
        if factor is not UNSET:
            field_dict["factor"] = factor
        if patience is not UNSET:
            field_dict["patience"] = patience
        if warmup_points is not UNSET:
            field_dict["warmup_points"] = warmup_points

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        metric = d.pop("metric", UNSET)

        factor = d.pop("factor", UNSET)

        patience = d.pop("patience", UNSET)

        warmup_points = d.pop("warmup_points", UNSET)

        early_stop = cls(
            metric=metric,
            factor=factor,
            patience=patience,
            warmup_points=warmup_points,
        )

        return early_stop
