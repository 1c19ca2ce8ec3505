from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.list_metrics_response_200_item import ListMetricsResponse200Item
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["after"] = after

    params["wait_ms"] = wait_ms

    params["logs"] = logs

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/jobs/{id}/metrics".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[ListMetricsResponse200Item] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = ListMetricsResponse200Item.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

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
) -> Response[ErrorBody | list[ListMetricsResponse200Item]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
) -> Response[ErrorBody | list[ListMetricsResponse200Item]]:
    """A job's metric points, oldest first.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[ListMetricsResponse200Item]]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
) -> ErrorBody | list[ListMetricsResponse200Item] | None:
    """A job's metric points, oldest first.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[ListMetricsResponse200Item]
    """

    return sync_detailed(
        id=id,
        client=client,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
) -> Response[ErrorBody | list[ListMetricsResponse200Item]]:
    """A job's metric points, oldest first.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[ListMetricsResponse200Item]]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
) -> ErrorBody | list[ListMetricsResponse200Item] | None:
    """A job's metric points, oldest first.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[ListMetricsResponse200Item]
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            after=after,
            wait_ms=wait_ms,
            logs=logs,
        )
    ).parsed
