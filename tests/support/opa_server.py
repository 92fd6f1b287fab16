"""A loopback stand-in for an OPA server, for tests of the OPA backend without an OPA binary.

It speaks the part of OPA's REST API that opa-python-client uses (policies, data, queries, health)
and evaluates with regorus. aiohttp runs on one thread of its own, which is also the only thread
that touches regorus: a regorus Engine may not be used from any thread but the one that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator

import regorus
from aiohttp import web

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Opa:
    """Policies and data, and one engine compiled from them (rebuilt on every change)."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict = {}
        self.engine = self._compile(self.policies, self.data)

    @staticmethod
    def _compile(policies: dict[str, str], data: dict) -> regorus.Engine:
        engine = regorus.Engine()
        for policy_id, raw in sorted(policies.items()):
            engine.add_policy(policy_id, raw)
        engine.add_data_json(json.dumps(data))  # JSON text: the dict path turns true into 1
        return engine

    def change(self, policies: dict[str, str] | None = None, data: dict | None = None) -> None:
        """Compile first, keep the change only if it compiles (as OPA does)."""
        policies = self.policies if policies is None else policies
        data = self.data if data is None else data
        self.engine = self._compile(policies, data)
        self.policies, self.data = policies, data

    def query(self, path: list[str], input_json: str | None):
        engine = self.engine.clone()  # a fresh input each query; cloning is ~10 µs
        if input_json is not None:
            engine.set_input_json(input_json)
        answer = json.loads(engine.eval_query_as_json(".".join(["data", *path])))
        rows = answer.get("result") or []
        return rows[0]["expressions"][0]["value"] if rows else _UNDEFINED


_UNDEFINED = object()


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"code": code, "message": message}
    if status == 400:
        body["errors"] = [{"code": code, "message": message}]
    return web.json_response(body, status=status)


def _message(error: Exception) -> str:
    return str(error).split("\nStack backtrace:")[0].strip()


def _segments(request: web.Request) -> list[str]:
    return [s for s in request.match_info.get("path", "").split("/") if s]


def _app(opa: _Opa) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({})

    @routes.get("/v1/policies")
    @routes.get("/v1/policies/")
    async def list_policies(request: web.Request) -> web.Response:
        return web.json_response({"result": [{"id": i, "raw": r} for i, r in sorted(opa.policies.items())]})

    @routes.get("/v1/policies/{id:.+}")
    async def get_policy(request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        if policy_id not in opa.policies:
            return _error(404, "resource_not_found", f'storage_not_found_error: policy id "{policy_id}"')
        return web.json_response({"result": {"id": policy_id, "raw": opa.policies[policy_id]}})

    @routes.put("/v1/policies/{id:.+}")
    async def put_policy(request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        try:
            opa.change(policies={**opa.policies, policy_id: await request.text()})
        except RuntimeError as e:
            return _error(400, "invalid_parameter", f"error(s) occurred while compiling module(s): {_message(e)}")
        return web.json_response({})

    @routes.delete("/v1/policies/{id:.+}")
    async def delete_policy(request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        if policy_id not in opa.policies:
            return _error(404, "resource_not_found", f'storage_not_found_error: policy id "{policy_id}"')
        try:
            opa.change(policies={k: v for k, v in opa.policies.items() if k != policy_id})
        except RuntimeError as e:
            return _error(400, "invalid_parameter", _message(e))
        return web.json_response({})

    @routes.put("/v1/data{path:(/.*)?}")
    async def put_data(request: web.Request) -> web.Response:
        path, value = _segments(request), await request.json()
        if not path:
            if not isinstance(value, dict):
                return _error(400, "invalid_parameter", "root document must be an object")
            data = value
        else:
            data = json.loads(json.dumps(opa.data))
            parent = data
            for key in path[:-1]:
                parent = parent.setdefault(key, {})
                if not isinstance(parent, dict):
                    return _error(400, "invalid_parameter", f"{key} is not an object")
            parent[path[-1]] = value
        try:
            opa.change(data=data)
        except RuntimeError as e:
            return _error(400, "invalid_parameter", _message(e))
        return web.Response(status=204)

    @routes.patch("/v1/data{path:(/.*)?}")
    async def patch_data(request: web.Request) -> web.Response:
        data = json.loads(json.dumps(opa.data))
        for op in await request.json():
            keys = _segments(request) + [k for k in op["path"].split("/") if k]
            parent = data
            for key in keys[:-1]:
                parent = parent.setdefault(key, {})
            if op["op"] in ("add", "replace"):
                parent[keys[-1]] = op["value"]
            elif op["op"] == "remove" and keys[-1] in parent:
                del parent[keys[-1]]
            else:
                return _error(400, "invalid_parameter", f"unsupported patch {op}")
        opa.change(data=data)
        return web.Response(status=204)

    @routes.delete("/v1/data{path:(/.*)?}")
    async def delete_data(request: web.Request) -> web.Response:
        path, data = _segments(request), json.loads(json.dumps(opa.data))
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not path or not isinstance(parent, dict) or path[-1] not in parent:
            return _error(404, "resource_not_found", "storage_not_found_error")
        del parent[path[-1]]
        opa.change(data=data)
        return web.Response(status=204)

    async def evaluate(request: web.Request, input_json: str | None) -> web.Response:
        path = _segments(request)
        if not all(_SEGMENT.fullmatch(s) for s in path):
            return _error(400, "invalid_parameter", f"unsupported path {'/'.join(path)}")
        try:
            value = opa.query(path, input_json)
        except RuntimeError as e:
            return _error(500, "internal_error", _message(e))
        return web.json_response({} if value is _UNDEFINED else {"result": value})

    @routes.get("/v1/data{path:(/.*)?}")
    async def get_data(request: web.Request) -> web.Response:
        return await evaluate(request, None)

    @routes.post("/v1/data{path:(/.*)?}")
    async def post_data(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        return await evaluate(request, json.dumps(body["input"]) if "input" in body else None)

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.add_routes(routes)
    return app


def start_opa_server() -> tuple[str, Callable[[], None]]:
    """Start the server on 127.0.0.1 (a free port); returns its url and a function that stops it."""
    started = threading.Event()
    state: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        opa = None
        try:
            opa = _Opa()
            runner = web.AppRunner(_app(opa), access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
            state.update(loop=loop, port=runner.addresses[0][1])
        except BaseException as e:  # reported to the caller, not lost in the thread
            state["error"] = e
            return
        finally:
            started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()
            opa.engine = None  # dropped here: regorus engines may not be freed on another thread

    thread = threading.Thread(target=serve, name="opa-loopback", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("loopback OPA server did not start")
    if "error" in state:
        raise state["error"]

    def stop() -> None:
        if thread.is_alive():
            state["loop"].call_soon_threadsafe(state["loop"].stop)
            thread.join(10)

    return f"http://127.0.0.1:{state['port']}", stop


@contextlib.contextmanager
def opa_server() -> Iterator[str]:
    """`with opa_server() as url:` for tests and fixtures."""
    url, stop = start_opa_server()
    try:
        yield url
    finally:
        stop()
