"""Structured logs: the request's context on each line, no personal data, repeated failures
logged ever more rarely."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest

from cdp.platform import logs
from cdp.platform.errors import InvalidArgument


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    made = logging.LogRecord("cdp.test", logging.WARNING, __file__, 1, message, args, exc_info)
    logs.RequestContext().filter(made)
    return made


def test_a_line_is_json_with_the_request_context():
    token = logs.request_id.set("req-42")
    try:
        line = logs.JsonFormatter("profile").format(record("served %s", "GetProfile"))
    finally:
        logs.request_id.reset(token)
    entry = json.loads(line)
    assert entry["service"] == "profile" and entry["level"] == "warning" and entry["logger"] == "cdp.test"
    assert entry["message"] == "served GetProfile" and entry["request_id"] == "req-42"
    assert "caller" not in entry  # outside an RPC, no caller


def test_emails_and_phones_are_masked_and_exception_messages_withheld():
    try:
        raise ValueError("could not parse ann@example.com")
    except ValueError as error:
        bug = (type(error), error, error.__traceback__)
    line = logs.JsonFormatter("x").format(record("for %s at %s", "ann@example.com", "+44 20 7946 0958", exc_info=bug))
    assert "ann@example.com" not in line and "7946" not in line
    entry = json.loads(line)
    assert entry["message"] == "for <email> at <phone>"
    assert entry["exception"]["type"] == "builtins.ValueError" and "message" not in entry["exception"]
    assert entry["exception"]["frames"]
    try:
        raise InvalidArgument("traits.email", "must be a string")
    except InvalidArgument as error:
        ours = (type(error), error, error.__traceback__)
    entry = json.loads(logs.JsonFormatter("x").format(record("refused", exc_info=ours)))
    assert "traits.email" in entry["exception"]["message"]  # the platform's errors name a field, not a value


def test_request_ids_offered_are_kept_only_when_plain():
    assert logs.new_request_id("abc-123") == "abc-123"
    for odd in ("ann@example.com", "x" * 65, "a b", "", None):
        made = logs.new_request_id(odd)
        assert made != odd and len(made) == 32


def test_a_repeated_failure_is_logged_ever_more_rarely(caplog):
    now = [0.0]
    backoff = logs.Backoff(logging.getLogger("cdp.test"), longest=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(10 * 60 * 20):  # every 50 ms for ten minutes
            backoff.failed(logging.WARNING, "peer %s down", "identity")
            now[0] += 0.05
    logged = [r.getMessage() for r in caplog.records]
    # 1, 2, 4, ... 32 s apart, then every 60 s: about 16 lines in ten minutes, not 12,000.
    assert 10 <= len(logged) <= 20, len(logged)
    assert logged[0] == "peer identity down" and "more like it not logged" in logged[-1]
    backoff.ok()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        backoff.failed(logging.WARNING, "peer %s down", "identity")
    assert [r.getMessage() for r in caplog.records] == ["peer identity down"]  # a new run logs at once


# What Python prints itself, in a service's process ---------------------------------------------------

SECRET = "ann@example.com Annabel Quist"

RAISES = {
    "uncaught": f"raise KeyError({SECRET!r})",
    "thread": textwrap.dedent(
        f"""
        import threading
        def work():
            raise ValueError({SECRET!r})
        t = threading.Thread(target=work, name="read-model")
        t.start(); t.join()
        """
    ),
    "unraisable": textwrap.dedent(
        f"""
        class Holder:
            def __del__(self):
                raise RuntimeError({SECRET!r})
        Holder()
        """
    ),
    "loop": textwrap.dedent(
        f"""
        import asyncio, gc
        from cdp.platform.logs import loop_exception
        async def fail(value):
            raise LookupError(value)
        async def main():
            asyncio.get_running_loop().set_exception_handler(loop_exception)
            task = asyncio.ensure_future(fail({SECRET!r}))
            await asyncio.sleep(0.01)
            asyncio.get_running_loop().call_soon(lambda v: 1 / 0, {SECRET!r})
            await asyncio.sleep(0.01)
            del task
            gc.collect()
        asyncio.run(main())
        """
    ),
}


def service_process_output(code: str) -> str:
    script = f"from cdp.platform.logs import setup_logging\nsetup_logging('identity')\n{code}"
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(RAISES))
def test_what_python_would_print_is_a_json_line_without_the_exceptions_message(case):
    output = service_process_output(RAISES[case])
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, output
    entries = [json.loads(line) for line in lines]  # every line is JSON: no traceback as text
    assert all(e["service"] == "identity" for e in entries)
    assert all(e.get("exception", {}).get("frames") for e in entries), output
    for needle in ("ann@example.com", "Annabel", "Quist"):
        assert needle not in output, output
    expected = {"uncaught": ["KeyError"], "thread": ["ValueError"], "unraisable": ["RuntimeError"]}
    expected["loop"] = ["LookupError", "ZeroDivisionError"]
    assert sorted(e["exception"]["type"].rsplit(".", 1)[-1] for e in entries) == sorted(expected[case])


def test_a_coroutine_cancelled_as_the_process_stops_is_not_logged_as_a_fault():
    output = service_process_output(
        textwrap.dedent(
            """
            import asyncio
            class Unraisable:
                exc_type, exc_value, exc_traceback = asyncio.CancelledError, asyncio.CancelledError(), None
                err_msg, object = None, object()
            import sys
            sys.unraisablehook(Unraisable())
            """
        )
    )
    assert output.strip() == "", output


def test_a_librarys_warning_is_a_json_line():
    output = service_process_output("import warnings\nwarnings.warn('deprecated call', DeprecationWarning)")
    [entry] = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert entry["logger"] == "py.warnings" and "deprecated call" in entry["message"]


def test_emails_in_any_script_and_as_urls_write_them_are_masked_and_so_is_a_caller_named_by_one():
    for text in ("jörg@example.com", "ada@bücher.de", "ada＠example.com", "ada%40example.com", "ünïcode@example.com"):
        assert logs.masked(f"sent to {text}.") == "sent to <email>.", text
    assert (
        logs.masked("position 12345 of 127.0.0.1:50051, svc:identity")
        == "position 12345 of 127.0.0.1:50051, svc:identity"
    )
    made = record("served")
    made.caller, made.decision_id = "quinn@example.com", "d-1"
    entry = json.loads(logs.JsonFormatter("x").format(made))
    assert entry["caller"] == "<email>" and entry["decision_id"] == "d-1"
