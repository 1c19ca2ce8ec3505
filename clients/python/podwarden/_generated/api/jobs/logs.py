from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    attempt: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["attempt"] = attempt

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/jobs/{id}/logs".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | None:
    if response.status_code == 200:
        response_200 = cast(Any, None)
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
) -> Response[Any | ErrorBody]:
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
    attempt: int | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """A job's pod logs: the lines kept from its earlier pods (the newest 10,000 in all), then the
    current pod's, proxied live from the provider's SSE stream; once the job has no pod, the
    stream ends after the kept lines. Each attempt's lines follow an `event: attempt` line when
    the job had more than one.

    Args:
        id (str):
        attempt (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        attempt=attempt,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    attempt: int | Unset = UNSET,
) -> Any | ErrorBody | None:
    """A job's pod logs: the lines kept from its earlier pods (the newest 10,000 in all), then the
    current pod's, proxied live from the provider's SSE stream; once the job has no pod, the
    stream ends after the kept lines. Each attempt's lines follow an `event: attempt` line when
    the job had more than one.

    Args:
        id (str):
        attempt (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return sync_detailed(
        id=id,
        client=client,
        attempt=attempt,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    attempt: int | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """A job's pod logs: the lines kept from its earlier pods (the newest 10,000 in all), then the
    current pod's, proxied live from the provider's SSE stream; once the job has no pod, the
    stream ends after the kept lines. Each attempt's lines follow an `event: attempt` line when
    the job had more than one.

    Args:
        id (str):
        attempt (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        attempt=attempt,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    attempt: int | Unset = UNSET,
) -> Any | ErrorBody | None:
    """A job's pod logs: the lines kept from its earlier pods (the newest 10,000 in all), then the
    current pod's, proxied live from the provider's SSE stream; once the job has no pod, the
    stream ends after the kept lines. Each attempt's lines follow an `event: attempt` line when
    the job had more than one.

    Args:
        id (str):
        attempt (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            attempt=attempt,
        )
    ).parsed
