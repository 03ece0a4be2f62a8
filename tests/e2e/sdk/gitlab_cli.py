"""The `gitlab` CLI (python-gitlab's) against the worker: a trigger's create, list, get, update and
delete with `gitlab project-trigger ...`, and a wrong token refused."""
import json
import os
import subprocess
import sys
import tempfile

from common import arg_url, check, env, record, run

URL = arg_url()
TOKEN = env("HOOKRELAY_TOKEN")
PROJECT = env("HOOKRELAY_PROJECT")
CLI = os.path.join(os.path.dirname(sys.executable), "gitlab")
# No ~/.python-gitlab.cfg: everything comes from the command line.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHON_GITLAB_CFG"} | {"HOME": tempfile.mkdtemp()}


def gitlab(*args, token=TOKEN, ok=True):
    done = subprocess.run([CLI, "--server-url", URL, "--private-token", token, "-o", "json", *args],
                          capture_output=True, text=True, timeout=60, env=ENV)
    if ok:
        check(done.returncode == 0, f"gitlab {' '.join(args)}: exit {done.returncode}: {done.stderr[-2000:]}")
        return json.loads(done.stdout) if done.stdout.strip() else None
    return done


def main():
    created = gitlab("project-trigger", "create", "--project-id", PROJECT, "--description", "from the cli")
    check(created.get("token"), f"create: {created}")
    tid = str(created["id"])
    record("create", tid)
    listed = gitlab("project-trigger", "list", "--project-id", PROJECT, "--get-all")
    check(tid in [str(t["id"]) for t in listed], f"list misses {tid}")
    record("list", len(listed))
    got = gitlab("project-trigger", "get", "--project-id", PROJECT, "--id", tid)
    check(got["description"] == "from the cli", f"get: {got}")
    gitlab("project-trigger", "update", "--project-id", PROJECT, "--id", tid, "--description", "renamed by the cli")
    got = gitlab("project-trigger", "get", "--project-id", PROJECT, "--id", tid)
    check(got["description"] == "renamed by the cli", f"update: {got}")
    record("update", got["description"])
    gitlab("project-trigger", "delete", "--project-id", PROJECT, "--id", tid)
    gone = gitlab("project-trigger", "get", "--project-id", PROJECT, "--id", tid, ok=False)
    check(gone.returncode != 0 and "404" in gone.stderr, f"get after delete: {gone.returncode} {gone.stderr[-500:]}")
    record("delete", "404 after delete")
    wrong = gitlab("project-trigger", "list", "--project-id", PROJECT, token="not-an-admin-token", ok=False)
    check(wrong.returncode != 0 and "401" in wrong.stderr, f"wrong token: {wrong.returncode} {wrong.stderr[-500:]}")
    record("wrong_token", "401")


run(main)
