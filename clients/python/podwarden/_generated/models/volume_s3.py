from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="VolumeS3")


@_attrs_define
class VolumeS3:
    """Where a volume's files are reached over RunPod's S3 API (`podwarden cp`).

    Attributes:
        endpoint (str): The data center's S3 endpoint (RunPod: `https://s3api-<dc>.runpod.io`).
        region (str): The region to sign with: the data center id.
        bucket (str): The bucket: the volume's RunPod id.
        access_key_id (None | str | Unset): The S3 key to use, when the server may hand one out (the operator's, to an
            admin);
            otherwise the client brings its own (`RUNPOD_S3_ACCESS_KEY_ID` /
            `RUNPOD_S3_SECRET_ACCESS_KEY`) or, for a hosted volume, moves the files through the
            server (`/api/v1/volumes/{name}/files/{path}`).
        secret_access_key (None | str | Unset):
    """

    endpoint: str
    region: str
    bucket: str
    access_key_id: None | str | Unset = UNSET
    secret_access_key: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        endpoint = self.endpoint

        region = self.region

        bucket = self.bucket

        access_key_id: None | str | Unset
        if isinstance(self.access_key_id, Unset):
            access_key_id = UNSET
        else:
            access_key_id = self.access_key_id

        secret_access_key: None | str | Unset
        if isinstance(self.secret_access_key, Unset):
            secret_access_key = UNSET
        else:
            secret_access_key = self.secret_access_key

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "endpoint": endpoint,
                "region": region,
                "bucket": bucket,
            }
        )
        if access_key_id is not UNSET:
            field_dict["access_key_id"] = access_key_id
        if secret_access_key is not UNSET:
            field_dict["secret_access_key"] = secret_access_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        endpoint = d.pop("endpoint")

        region = d.pop("region")

        bucket = d.pop("bucket")

        def _parse_access_key_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        access_key_id = _parse_access_key_id(d.pop("access_key_id", UNSET))

        def _parse_secret_access_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret_access_key = _parse_secret_access_key(d.pop("secret_access_key", UNSET))

        volume_s3 = cls(
            endpoint=endpoint,
            region=region,
            bucket=bucket,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )

        volume_s3.additional_properties = d
        return volume_s3

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
