"""How every call is made, blocking or on asyncio: a deadline, retries where they are safe,
errors as exceptions (cdp.client.errors).

Each client class (cdp.client.services) describes its methods once: what request they build,
which RPC they call, what they return and whether a retry is safe. The same description runs on a
blocking channel (SyncCalls: methods return their result) or on a grpc.aio channel (AsyncCalls:
methods return an awaitable, iterators are async iterators).

Retries: a call is retried only where a second try cannot do what the first did not mean to.
  READ        idempotent reads: on UNAVAILABLE and on DEADLINE_EXCEEDED
  IDEMPOTENT  writes that are idempotent by design (Ingest dedups by messageId): on UNAVAILABLE
  ONCE        other writes (a second CreateSource would make a second source): never
Tries are bounded (Retry.tries, 4 by default) and spaced by capped exponential backoff with
jitter. The deadline (the client's timeout, or timeout= on the call) holds for each try.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from cdp.client.errors import error_from

READ = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
IDEMPOTENT = frozenset({grpc.StatusCode.UNAVAILABLE})
ONCE: frozenset[grpc.StatusCode] = frozenset()

DEFAULT_TIMEOUT_S = 30.0
Metadata = Sequence[tuple[str, str]]
# An RPC of the client's stub by name ("Ingest"), or a multicallable (a raw one, a stream's wrapper).
Method = str | Callable[..., Any]


@dataclass(frozen=True)
class Retry:
    """At most `tries` tries; before try n+1 a pause of about first_backoff_s * multiplier**(n-1),
    at most max_backoff_s, with its second half drawn at random (so clients do not retry in step)."""

    tries: int = 4
    first_backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    multiplier: float = 2.0

    def backoff(self, failed_tries: int) -> float:
        ceiling = min(self.max_backoff_s, self.first_backoff_s * self.multiplier ** (failed_tries - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_RETRY = Retry()
NO_RETRY = Retry(tries=1)


def _unwrapped(response: Any, unwrap: str | None) -> Any:
    if unwrap is None:
        return response
    value = getattr(response, unwrap)
    return list(value) if hasattr(value, "extend") else value  # a repeated field as a list


class _Client:
    """What a client of one service holds: a channel, the caller's metadata, a deadline, a retry policy."""

    STUB: Callable[[Any], Any]
    SERVICE: str  # its full name, e.g. cdp.collector.v1.CollectorService

    def __init__(
        self,
        channel: grpc.Channel | grpc.aio.Channel,
        *,
        metadata: Metadata = (),
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: Retry = DEFAULT_RETRY,
    ):
        self.channel = channel
        self.metadata = tuple(metadata)
        self.timeout = timeout
        self.retry = retry
        self._stub = self.STUB(channel)
        self._raw_calls: dict[str, Any] = {}

    def _call_metadata(self, extra: Metadata | None) -> tuple[tuple[str, str], ...] | None:
        """The client's metadata and the call's; an authorization of the call's replaces the client's."""
        if not extra:
            return self.metadata or None
        extra = tuple(extra)
        base = self.metadata
        if any(k == "authorization" for k, _ in extra):
            base = tuple(m for m in base if m[0] != "authorization")
        return base + extra

    def _tries(self, retry_on: frozenset) -> int:
        return max(1, self.retry.tries) if retry_on else 1

    # How a call is made: defined by SyncCalls (results) and AsyncCalls (awaitables, async iterators),
    # one of which each client class mixes in after its service's class.
    def _unary(
        self,
        method: Method,
        request: Any,
        retry_on: frozenset[grpc.StatusCode],
        unwrap: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Any:
        raise NotImplementedError

    def _streamed(
        self, method: str, requests: Any, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Any:
        raise NotImplementedError

    def _paged(
        self,
        page: Callable[[Any], Any],
        items: Callable[[Any], Iterable[Any]],
        next_cursor: Callable[[Any, Any], Any],
        cursor: Any,
    ) -> Any:
        raise NotImplementedError

    def _raw(self, method: str, response_class: Any):
        """A multicallable sending requests already serialised (bytes), as benchmarks do."""
        if method not in self._raw_calls:
            self._raw_calls[method] = self.channel.unary_unary(
                f"/{self.SERVICE}/{method}",
                request_serializer=None,
                response_deserializer=response_class.FromString,
            )
        return self._raw_calls[method]


class SyncCalls(_Client):
    """Blocking calls (a grpc.Channel)."""

    channel: grpc.Channel

    def _unary(
        self,
        method: Method,
        request: Any,
        retry_on: frozenset[grpc.StatusCode],
        unwrap: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Any:
        call = getattr(self._stub, method) if isinstance(method, str) else method
        timeout = self.timeout if timeout is None else timeout
        metadata = self._call_metadata(metadata)
        tries = self._tries(retry_on)
        for attempt in range(1, tries + 1):
            try:
                return _unwrapped(call(request, timeout=timeout, metadata=metadata), unwrap)
            except grpc.RpcError as error:
                if attempt < tries and error.code() in retry_on:
                    time.sleep(self.retry.backoff(attempt))
                    continue
                raise error_from(error) from error
        raise AssertionError("unreachable")

    def _streamed(
        self, method: str, requests: Iterable[Any], *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Any:
        """A client-streaming call: never retried (the requests cannot be sent again)."""
        return self._unary(
            lambda it, **kw: getattr(self._stub, method)(iter(it), **kw),
            requests,
            ONCE,
            timeout=timeout,
            metadata=metadata,
        )

    def _paged(
        self,
        page: Callable[[Any], Any],
        items: Callable[[Any], Iterable[Any]],
        next_cursor: Callable[[Any, Any], Any],
        cursor: Any,
    ) -> Any:
        """Every item of every page: page(cursor) -> response; next_cursor(response, cursor) -> the
        next cursor, or None at the end."""

        def pages():
            at = cursor
            while at is not None:
                response = page(at)
                yield from items(response)
                at = next_cursor(response, at)

        return pages()


class AsyncCalls(_Client):
    """Calls on asyncio (a grpc.aio.Channel): methods return awaitables, iterators are async."""

    channel: grpc.aio.Channel

    async def _unary(
        self,
        method: Method,
        request: Any,
        retry_on: frozenset[grpc.StatusCode],
        unwrap: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Any:
        call = getattr(self._stub, method) if isinstance(method, str) else method
        timeout = self.timeout if timeout is None else timeout
        metadata = self._call_metadata(metadata)
        tries = self._tries(retry_on)
        for attempt in range(1, tries + 1):
            try:
                return _unwrapped(await call(request, timeout=timeout, metadata=metadata), unwrap)
            except grpc.RpcError as error:
                if attempt < tries and error.code() in retry_on:
                    await asyncio.sleep(self.retry.backoff(attempt))
                    continue
                raise error_from(error) from error
        raise AssertionError("unreachable")

    def _streamed(
        self, method: str, requests: Any, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Any:
        return self._unary(getattr(self._stub, method), requests, ONCE, timeout=timeout, metadata=metadata)

    def _paged(
        self,
        page: Callable[[Any], Any],
        items: Callable[[Any], Iterable[Any]],
        next_cursor: Callable[[Any, Any], Any],
        cursor: Any,
    ) -> Any:
        async def pages():
            at = cursor
            while at is not None:
                response = await page(at)
                for item in items(response):
                    yield item
                at = next_cursor(response, at)

        return pages()
