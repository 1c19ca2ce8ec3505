"""The statistical-modeling seed's storage pattern, unmodified in spirit: boto3 with
`endpoint_url` = the data center's S3 API, bucket = the network volume id, per-user prefixes
(`user_<id>/datasets/...`), upload_file / list_objects_v2 / download_file / head_object /
delete_object — against the same files a pod and a worker see at their mounts."""
import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError


def client(emulator, dc="EU-RO-1", key=None, region=None):
    access, secret = key or emulator.s3_key
    return boto3.client(
        "s3",
        endpoint_url=emulator.s3[dc],
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name=region or dc,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_the_seeds_upload_list_download_cycle_on_a_network_volume(emulator, tmp_path):
    vol, vol_dir = emulator.volume()
    s3 = client(emulator)
    data = tmp_path / "houses.csv"
    data.write_bytes(b"sqft,price\n" + b"".join(f"{i},{i * 100}\n".encode() for i in range(200_000)))
    # Multipart on purpose (the seed uploads datasets of any size): 5 MB parts.
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(data), vol, "user_42/datasets/houses.csv", Config=cfg)
    assert (vol_dir / "user_42" / "datasets" / "houses.csv").read_bytes() == data.read_bytes(), "the bytes a pod would read"

    # A file a pod wrote is an object.
    (vol_dir / "user_42" / "models").mkdir(parents=True)
    (vol_dir / "user_42" / "models" / "model.json").write_text('{"w": 1}')
    listed = s3.list_objects_v2(Bucket=vol, Prefix="user_42/")
    keys = sorted(o["Key"] for o in listed["Contents"])
    assert keys == ["user_42/datasets/houses.csv", "user_42/models/model.json"], keys
    assert s3.head_object(Bucket=vol, Key="user_42/models/model.json")["ContentLength"] == 8

    out = tmp_path / "model.json"
    s3.download_file(vol, "user_42/models/model.json", str(out))
    assert out.read_text() == '{"w": 1}'
    s3.delete_object(Bucket=vol, Key="user_42/models/model.json")
    assert not (vol_dir / "user_42" / "models" / "model.json").exists()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]].count(vol) == 1


def test_what_runpods_s3_api_refuses(emulator):
    vol, _ = emulator.volume()
    s3 = client(emulator)
    for call in (
        lambda: s3.create_bucket(Bucket="new-bucket"),
        lambda: s3.delete_bucket(Bucket=vol),
        lambda: s3.delete_objects(Bucket=vol, Delete={"Objects": [{"Key": "a"}]}),
    ):
        with pytest.raises(ClientError):
            call()
    with pytest.raises(ClientError) as e:
        client(emulator, key=(emulator.s3_key[0], "rps_NOTTHESECRET")).head_bucket(Bucket=vol)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Presigned URLs do not work on RunPod's S3 API: a correctly signed one is refused.
    s3.put_object(Bucket=vol, Key="shared.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": vol, "Key": "shared.txt"}, ExpiresIn=300)
    assert requests.get(url, timeout=30).status_code == 403, url
    # As on RunPod, US-TX-3 has no S3 API (`s3api-us-tx-3.runpod.io` does not resolve).
    assert "US-TX-3" not in emulator.s3 and "EU-RO-1" in emulator.s3, emulator.s3
