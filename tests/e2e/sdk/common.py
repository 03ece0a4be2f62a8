"""Shared by the SDK drivers: arguments, checks and the JSON report.

Each driver takes the worker's URL as its first argument and its credentials from the environment
(HOOKRELAY_TOKEN: an admin token; HOOKRELAY_AK / HOOKRELAY_SK: an ADMIN_ACCESS_KEYS pair). It
prints one JSON object of results on stdout and exits 1 on the first unexpected outcome.
"""
import json
import os
import sys
import traceback

RESULTS = {}


def arg_url():
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} <worker url>")
    return sys.argv[1].rstrip("/")


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def record(step, value):
    RESULTS[step] = value


def refused(call, status, what):
    """Runs `call`, which must raise an SDK error carrying HTTP `status`; returns that status."""
    try:
        call()
    except Exception as error:  # each SDK has its own error class; all carry the status
        got = next((getattr(error, a) for a in ("status_code", "statusCode", "response_code", "code")
                    if isinstance(getattr(error, a, None), int)), None)
        if got is None and isinstance(getattr(error, "data", None), dict):
            got = error.data.get("statusCode")
        check(got == status, f"{what}: expected HTTP {status}, got {got} ({type(error).__name__}: {error})")
        return got
    raise AssertionError(f"{what}: expected HTTP {status}, but the call succeeded")


def run(main):
    try:
        main()
    except Exception:
        traceback.print_exc()
        print(json.dumps(RESULTS, default=str))
        sys.exit(1)
    print(json.dumps(RESULTS, default=str))
