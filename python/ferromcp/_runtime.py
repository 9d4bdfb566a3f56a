"""The loop side of the bridge: drain ready calls in one batch per wake-up and run their handlers.

Sync handlers run inline on the loop thread (they are usually microseconds); `async def` handlers become
tasks; `blocking=True` handlers go to the default thread pool. Results are answered through the call handle,
which builds the JSON-RPC envelope in Rust. A task whose handler has a timeout is cancelled when it runs out, and
the call is answered with the handler's timeout failure (for a tool, an `isError` result).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import typing
from typing import Any, Protocol

import orjson

from ._context import Context, InputRequired, ProtocolError, respond_with_error
from ._core import TokenCheck
from ._tools import Handler, ToolError
from .auth import JWTVerifier, TokenVerifier, judge

if typing.TYPE_CHECKING:
    from ._core import CallHandle
    from ._server import Server

__all__ = ["Dispatcher"]

_logger = logging.getLogger("ferromcp")


class EventSource(Protocol):
    def wake_fd(self) -> int: ...
    def drain(self) -> list[Any]: ...


def _prepare(spec: Handler, handle: CallHandle, args: dict[str, Any], dispatcher: Dispatcher) -> dict[str, Any]:
    for name in spec.drop:
        args.pop(name, None)
    for name, convert in spec.converters:
        if name in args:
            args[name] = convert(args[name])
    if spec.ctx_param is not None:
        args[spec.ctx_param] = Context(handle, dispatcher.server, dispatcher)
    return args


def _begin_task(spec: Handler, handle: CallHandle) -> None:
    """A call that may be a task becomes one before its handler runs, unless the tool defers that to the
    handler (`ctx.start_task()`)."""
    if handle.task_eligible and not getattr(spec, "defer_task", False):
        handle.start_task()


def _end_task(handle: CallHandle) -> None:
    """A tool that requires a task gets one at the latest when its handler returns (a deferred start)."""
    if handle.task_eligible and handle.task_required:
        handle.start_task()


def _input_required(handle: CallHandle, need: InputRequired) -> None:
    """Answers a 2026-07-28 request with its open questions; the client retries with answers (the handler then
    runs again). A state that cannot be sealed (answers too large) is an internal error, never a silent hang."""
    ctx = need.context
    try:
        handle.respond_input_required(orjson.dumps(ctx._asked), ctx._used)  # pyright: ignore[reportPrivateUsage]
    except Exception as exc:
        _logger.error("cannot answer input-required", exc_info=exc)
        handle.respond_error(-32603, f"Internal error: cannot ask the client for input: {exc}")


def _nested_input_required(exc: BaseException) -> InputRequired | None:
    """The InputRequired inside an exception group (questions asked from tasks of an asyncio.TaskGroup)."""
    if isinstance(exc, InputRequired):
        return exc
    for inner in getattr(exc, "exceptions", ()) or ():
        if isinstance(inner, BaseException):
            found = _nested_input_required(inner)
            if found is not None:
                return found
    return None


class _TimedOut(Exception):
    """The handler ran out of its timeout and was cancelled."""


async def _bounded(awaitable: typing.Awaitable[Any], seconds: float) -> Any:
    """Awaits `awaitable` in the current task, cancelling it after `seconds` (then raising `_TimedOut`). Like
    `asyncio.timeout` (3.11+), which this package cannot use while it supports 3.10; unlike `asyncio.wait_for`,
    no second task."""
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if not expired:
            raise
        if sys.version_info >= (3, 11):
            task.uncancel()
        raise _TimedOut from None
    finally:
        timer.cancel()


def _timed_out(spec: Handler, handle: CallHandle) -> None:
    """Answers a call whose handler ran out of time (only tools have timeouts: an `isError` result)."""
    name, seconds = getattr(spec, "name", "?"), spec.timeout or 0.0
    _logger.warning("tool %r timed out after %g s and was cancelled", name, seconds)
    spec.fail(handle, ToolError(f"Tool {name!r} timed out after {seconds:g} s"))


class Dispatcher:
    """Runs the calls one transport hands over, and knows when all of them have finished."""

    def __init__(self, server: Server, source: EventSource) -> None:
        self.server = server
        self._source = source
        self._tasks: dict[int, asyncio.Future[Any]] = {}
        self._replies: dict[int, asyncio.Future[tuple[bool, bytes]]] = {}
        self._next_reply = 0
        self._loop = asyncio.get_running_loop()
        self._input_closed = False
        self.mask = server.mask_error_details
        # Tokens being judged by a Python verifier (kept referenced until they finish).
        self._checks: set[asyncio.Task[None]] = set()
        self.finished: asyncio.Future[None] = self._loop.create_future()

    def start(self) -> None:
        self._loop.add_reader(self._source.wake_fd(), self._on_ready)

    def stop(self) -> None:
        self._loop.remove_reader(self._source.wake_fd())
        for task in [*self._tasks.values(), *self._checks]:
            task.cancel()

    # -- server→client requests (see Context.request) -------------------------------------------------------

    def expect_reply(self) -> tuple[int, asyncio.Future[tuple[bool, bytes]]]:
        self._next_reply += 1
        future: asyncio.Future[tuple[bool, bytes]] = self._loop.create_future()
        self._replies[self._next_reply] = future
        return self._next_reply, future

    def forget_reply(self, key: int) -> None:
        self._replies.pop(key, None)

    def _on_ready(self) -> None:
        handlers = self.server._handlers  # pyright: ignore[reportPrivateUsage]
        # A sync handler raising SystemExit or KeyboardInterrupt: its call is answered, the rest of the batch is
        # handled, and then it is raised.
        stopping: BaseException | None = None
        for event in self._source.drain():
            if event.__class__ is tuple and len(event) == 2:
                key, outcome = event
                future = self._replies.pop(key, None)
                if future is not None and not future.done():
                    future.set_result(outcome)
            elif event.__class__ is tuple:
                handle, handler_id, args = event
                spec = handlers.get(handler_id)
                if spec is None:  # removed while the call was queued
                    handle.respond_error(-32602, "Unknown handler: it was removed")
                elif spec.is_async or spec.blocking:
                    self._start_task(spec, handle, args)
                else:
                    try:
                        _begin_task(spec, handle)
                        result = spec.fn(**_prepare(spec, handle, args, self))
                    except ProtocolError as exc:
                        respond_with_error(handle, exc)
                    except Exception as exc:
                        spec.fail(handle, exc, mask=self.mask)
                    except BaseException as exc:
                        handle.respond_error(-32603, f"Internal error: {type(exc).__name__}")
                        stopping = exc
                    else:
                        try:
                            _end_task(handle)
                            spec.respond(handle, result)
                        except Exception as exc:
                            spec.fail(handle, exc, mask=self.mask)
            elif event is None:
                self._input_closed = True
                self._maybe_finish()
            elif event.__class__ is str:  # "jwks": a token named a key the JWT verifier does not have
                auth = self.server.auth
                if isinstance(auth, JWTVerifier):
                    auth.refresh_soon()
            elif event.__class__ is TokenCheck:
                self._check_token(event)
            else:
                task = self._tasks.get(event)
                if task is not None:
                    task.cancel()
        if stopping is not None:
            raise stopping

    def _check_token(self, check: TokenCheck) -> None:
        auth = self.server.auth
        if not isinstance(auth, TokenVerifier):
            check.fail("no token verifier")
            return
        task = self._loop.create_task(judge(auth, check))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    def _start_task(self, spec: Handler, handle: CallHandle, args: dict[str, Any]) -> None:
        task = self._loop.create_task(self._run(spec, handle, args))
        key = handle.key
        self._tasks[key] = task
        task.add_done_callback(functools.partial(self._task_done, key))

    async def _run(self, spec: Handler, handle: CallHandle, args: dict[str, Any]) -> None:
        try:
            kwargs = _prepare(spec, handle, args, self)
            _begin_task(spec, handle)
            if spec.blocking:
                # A thread cannot be stopped: on timeout the call is answered and the thread runs on unobserved.
                running = self._loop.run_in_executor(None, functools.partial(spec.fn, **kwargs))
            else:
                running = spec.fn(**kwargs)
            result = await (running if spec.timeout is None else _bounded(running, spec.timeout))
            _end_task(handle)
            spec.respond(handle, result)
        except _TimedOut:
            _timed_out(spec, handle)
        except InputRequired as need:
            _input_required(handle, need)
        except ProtocolError as exc:
            respond_with_error(handle, exc)
        except asyncio.CancelledError:
            # Cancelled by the client (the response is already suppressed) or by shutdown.
            handle.respond_error(-32603, "Request cancelled")
            raise
        except Exception as exc:
            need = _nested_input_required(exc)
            if need is not None:
                _input_required(handle, need)  # questions asked inside a TaskGroup
            else:
                spec.fail(handle, exc, mask=self.mask)
        except BaseException as exc:
            need = _nested_input_required(exc)
            if need is None:
                handle.respond_error(-32603, f"Internal error: {type(exc).__name__}")
                raise
            _input_required(handle, need)

    def _task_done(self, key: int, _task: asyncio.Future[Any]) -> None:
        self._tasks.pop(key, None)
        self._maybe_finish()

    @property
    def busy(self) -> bool:
        """Handlers still running as tasks (async or on worker threads)."""
        return bool(self._tasks)

    def _maybe_finish(self) -> None:
        if self._input_closed and not self._tasks and not self.finished.done():
            self.finished.set_result(None)
