"""python-gitlab against the worker's GitLab-compatible API: gl.auth(), a trigger's full CRUD, a
refused token, and trigger_pipeline, which the worker forwards to the `gitlab` target PROJECT."""
import gitlab

from common import arg_url, check, env, record, refused, run

URL = arg_url()
TOKEN = env("HOOKRELAY_TOKEN")
PROJECT = env("HOOKRELAY_PROJECT")  # a gitlab target's name


def main():
    gl = gitlab.Gitlab(URL, private_token=TOKEN)
    gl.auth()
    record("auth", gl.user.username)
    check(gl.user.username == "alice", f"gl.user is {gl.user.username}")
    version, _revision = gl.version()
    record("version", version)
    check(version != "unknown", "gl.version() failed")

    project = gl.projects.get(PROJECT, lazy=True)
    trigger = project.triggers.create({"description": "sdk e2e"})
    check(trigger.token, "create returned no token")
    record("create", trigger.id)
    listed = [t.id for t in project.triggers.list(get_all=True)]
    check(trigger.id in listed, f"list misses {trigger.id}: {listed}")
    record("list", len(listed))
    got = project.triggers.get(trigger.id)
    check(got.description == "sdk e2e", f"get: {got.description}")
    got.description = "renamed by python-gitlab"
    got.save()
    check(project.triggers.get(trigger.id).description == "renamed by python-gitlab", "update did not stick")
    record("update", "renamed by python-gitlab")

    pipeline = project.trigger_pipeline("main", trigger.token, variables={"ENV": "prod"})
    record("trigger_pipeline", pipeline.id)

    project.triggers.delete(trigger.id)
    record("delete_then_get", refused(lambda: project.triggers.get(trigger.id), 404, "get after delete"))
    bad = gitlab.Gitlab(URL, private_token="not-an-admin-token")
    record("wrong_token", refused(bad.auth, 401, "auth with a wrong token"))


run(main)
