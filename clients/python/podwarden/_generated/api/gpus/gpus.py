from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.gpu_row import GpuRow
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    min_vram_gb: int | Unset = UNSET,
    count: int | Unset = UNSET,
    cloud: str | Unset = UNSET,
    max_price_per_hour: float | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["min_vram_gb"] = min_vram_gb

    params["count"] = count

    params["cloud"] = cloud

    params["max_price_per_hour"] = max_price_per_hour

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/gpus",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[GpuRow] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = GpuRow.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 502:
        response_502 = ErrorBody.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | list[GpuRow]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    min_vram_gb: int | Unset = UNSET,
    count: int | Unset = UNSET,
    cloud: str | Unset = UNSET,
    max_price_per_hour: float | Unset = UNSET,
) -> Response[ErrorBody | list[GpuRow]]:
    """GPU offers that fit, ranked as the engine ranks them, with live prices and stock.

    Args:
        min_vram_gb (int | Unset):
        count (int | Unset):
        cloud (str | Unset):
        max_price_per_hour (float | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[GpuRow]]
    """

    kwargs = _get_kwargs(
        min_vram_gb=min_vram_gb,
        count=count,
        cloud=cloud,
        max_price_per_hour=max_price_per_hour,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    min_vram_gb: int | Unset = UNSET,
    count: int | Unset = UNSET,
    cloud: str | Unset = UNSET,
    max_price_per_hour: float | Unset = UNSET,
) -> ErrorBody | list[GpuRow] | None:
    """GPU offers that fit, ranked as the engine ranks them, with live prices and stock.

    Args:
        min_vram_gb (int | Unset):
        count (int | Unset):
        cloud (str | Unset):
        max_price_per_hour (float | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[GpuRow]
    """

    return sync_detailed(
        client=client,
        min_vram_gb=min_vram_gb,
        count=count,
        cloud=cloud,
        max_price_per_hour=max_price_per_hour,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    min_vram_gb: int | Unset = UNSET,
    count: int | Unset = UNSET,
    cloud: str | Unset = UNSET,
    max_price_per_hour: float | Unset = UNSET,
) -> Response[ErrorBody | list[GpuRow]]:
    """GPU offers that fit, ranked as the engine ranks them, with live prices and stock.

    Args:
        min_vram_gb (int | Unset):
        count (int | Unset):
        cloud (str | Unset):
        max_price_per_hour (float | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[GpuRow]]
    """

    kwargs = _get_kwargs(
        min_vram_gb=min_vram_gb,
        count=count,
        cloud=cloud,
        max_price_per_hour=max_price_per_hour,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    min_vram_gb: int | Unset = UNSET,
    count: int | Unset = UNSET,
    cloud: str | Unset = UNSET,
    max_price_per_hour: float | Unset = UNSET,
) -> ErrorBody | list[GpuRow] | None:
    """GPU offers that fit, ranked as the engine ranks them, with live prices and stock.

    Args:
        min_vram_gb (int | Unset):
        count (int | Unset):
        cloud (str | Unset):
        max_price_per_hour (float | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[GpuRow]
    """

    return (
        await asyncio_detailed(
            client=client,
            min_vram_gb=min_vram_gb,
            count=count,
            cloud=cloud,
            max_price_per_hour=max_price_per_hour,
        )
    ).parsed
