"""Huawei's ServiceStage client (huaweicloudsdkservicestage v2, SDK-HMAC-SHA256) against the
worker's ServiceStage-compatible hooks: create, list and delete a repository hook whose callback is
HOOKRELAY_CALLBACK, a wrong secret refused (401), and a GitHub push signed with the hook's secret
sent to /hooks/<id> (built from the hook's id, as the README says), which the worker forwards to the
callback."""
import hashlib
import hmac
import json
import os
import time
import urllib.request

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkservicestage.v2 import ServiceStageClient
from huaweicloudsdkservicestage.v2 import model

from common import arg_url, check, env, record, refused, run

URL = arg_url()
TOKEN = env("HOOKRELAY_TOKEN")  # an admin token, to wait for the push's delivery before the delete
AK, SK = env("HOOKRELAY_AK"), env("HOOKRELAY_SK")
CALLBACK = env("HOOKRELAY_CALLBACK")
SECRET = "sdk-e2e-hook-secret"
PUSH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../fixtures/github/push.json")
REPO = {"x_repo_auth": "sdk-e2e", "namespace": "group", "project": "app"}


def client(secret=SK):
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    return (ServiceStageClient.new_builder().with_http_config(config)
            .with_credentials(BasicCredentials(AK, secret, "0a1b2c3d4e5f60718293a4b5c6d7e8f9"))
            .with_endpoints([URL]).build())


def hooks(ss):
    return ss.list_hooks(model.ListHooksRequest(**REPO))


def settled(delivery_id):
    """Polls the worker's delivery record until it leaves `pending`; its state."""
    for _ in range(150):
        request = urllib.request.Request(f"{URL}/api/v1/deliveries/{delivery_id}",
                                         headers={"authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            state = json.loads(answer.read())["state"]
        if state != "pending":
            check(state == "delivered", f"delivery {delivery_id} is {state}")
            return state
        time.sleep(0.1)
    raise AssertionError(f"delivery {delivery_id} still pending after 15 s")


def main():
    ss = client()
    created = ss.create_hook(model.CreateHookRequest(**REPO, body=model.HookCreate(secret=SECRET,
                                                                                    url=CALLBACK)))
    check(created.id, f"create: {created}")
    record("create", {"id": created.id, "callback_url": getattr(created, "callback_url", None)})
    listed = hooks(ss)
    record("list", str(listed))
    check(str(created.id) in str(listed), f"list misses {created.id}: {listed}")
    push = json.load(open(PUSH, encoding="utf-8"))
    push["repository"]["full_name"] = "group/app"
    body = json.dumps(push).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{URL}/hooks/{created.id}", data=body, method="POST", headers={
        "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "sdk-e2e-1",
        "x-hub-signature-256": signature})
    with urllib.request.urlopen(request, timeout=30) as answer:
        fired = json.loads(answer.read() or b"null")
        record("hook_push", {"status": answer.status, "body": fired})
        check(answer.status in (200, 202), f"/hooks/{created.id} answered {answer.status}")
    for delivery in fired["deliveries"]:
        record("delivery", settled(delivery["delivery_id"]))
    record("wrong_secret", refused(lambda: hooks(client(SK + "x")), 401, "a wrong secret"))
    ss.delete_hook(model.DeleteHookRequest(**REPO, hook_id=str(created.id)))
    check(str(created.id) not in str(hooks(ss)), "list after delete")
    record("delete", created.id)


run(main)
