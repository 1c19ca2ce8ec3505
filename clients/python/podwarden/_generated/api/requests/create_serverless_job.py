from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.serverless_job_spec import ServerlessJobSpec
from ...models.serverless_job_view import ServerlessJobView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: ServerlessJobSpec,
    sync: bool | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["sync"] = sync

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/requests",
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ServerlessJobView | None:
    if response.status_code == 201:
        response_201 = ServerlessJobView.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 402:
        response_402 = ErrorBody.from_dict(response.json())

        return response_402

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

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
) -> Response[ErrorBody | ServerlessJobView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ServerlessJobSpec,
    sync: bool | Unset = UNSET,
) -> Response[ErrorBody | ServerlessJobView]:
    """Submits a serverless job to an endpoint.

    Args:
        sync (bool | Unset):
        body (ServerlessJobSpec): A serverless job.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ServerlessJobView]
    """

    kwargs = _get_kwargs(
        body=body,
        sync=sync,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ServerlessJobSpec,
    sync: bool | Unset = UNSET,
) -> ErrorBody | ServerlessJobView | None:
    """Submits a serverless job to an endpoint.

    Args:
        sync (bool | Unset):
        body (ServerlessJobSpec): A serverless job.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ServerlessJobView
    """

    return sync_detailed(
        client=client,
        body=body,
        sync=sync,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ServerlessJobSpec,
    sync: bool | Unset = UNSET,
) -> Response[ErrorBody | ServerlessJobView]:
    """Submits a serverless job to an endpoint.

    Args:
        sync (bool | Unset):
        body (ServerlessJobSpec): A serverless job.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ServerlessJobView]
    """

    kwargs = _get_kwargs(
        body=body,
        sync=sync,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ServerlessJobSpec,
    sync: bool | Unset = UNSET,
) -> ErrorBody | ServerlessJobView | None:
    """Submits a serverless job to an endpoint.

    Args:
        sync (bool | Unset):
        body (ServerlessJobSpec): A serverless job.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ServerlessJobView
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            sync=sync,
        )
    ).parsed
