from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.event_view import EventView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    params: dict[str, Any] = {}

    params["after"] = after

    params["wait_ms"] = wait_ms

    params["logs"] = logs

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/jobs/{id}/events".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[EventView] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = EventView.from_dict(response_200_item_data)

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
) -> Response[ErrorBody | list[EventView]]:
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
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | list[EventView]]:
    """A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
    `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
    points, stream chunks, budget alerts), resumable with `Last-Event-ID`.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[EventView]]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
        last_event_id=last_event_id,
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
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | list[EventView] | None:
    """A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
    `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
    points, stream chunks, budget alerts), resumable with `Last-Event-ID`.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[EventView]
    """

    return sync_detailed(
        id=id,
        client=client,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    wait_ms: int | Unset = UNSET,
    logs: bool | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | list[EventView]]:
    """A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
    `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
    points, stream chunks, budget alerts), resumable with `Last-Event-ID`.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[EventView]]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        wait_ms=wait_ms,
        logs=logs,
        last_event_id=last_event_id,
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
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | list[EventView] | None:
    """A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
    `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
    points, stream chunks, budget alerts), resumable with `Last-Event-ID`.

    Args:
        id (str):
        after (int | Unset):
        wait_ms (int | Unset):
        logs (bool | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[EventView]
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            after=after,
            wait_ms=wait_ms,
            logs=logs,
            last_event_id=last_event_id,
        )
    ).parsed
