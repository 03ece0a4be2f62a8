"""Huawei's ServiceStage client (huaweicloudsdkservicestage v2, SDK-HMAC-SHA256) against the
worker's ServiceStage-compatible hooks: create, list and delete a repository hook whose callback is
HOOKRELAY_CALLBACK, and a wrong secret refused (401)."""
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkservicestage.v2 import ServiceStageClient
from huaweicloudsdkservicestage.v2 import model

from common import arg_url, check, env, record, refused, run

URL = arg_url()
AK, SK = env("HOOKRELAY_AK"), env("HOOKRELAY_SK")
CALLBACK = env("HOOKRELAY_CALLBACK")
REPO = {"x_repo_auth": "sdk-e2e", "namespace": "group", "project": "app"}


def client(secret=SK):
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    return (ServiceStageClient.new_builder().with_http_config(config)
            .with_credentials(BasicCredentials(AK, secret, "0a1b2c3d4e5f60718293a4b5c6d7e8f9"))
            .with_endpoints([URL]).build())


def hooks(ss):
    return ss.list_hooks(model.ListHooksRequest(**REPO))


def main():
    ss = client()
    created = ss.create_hook(model.CreateHookRequest(**REPO, body=model.HookCreate(secret="sdk-e2e-hook-secret",
                                                                                    url=CALLBACK)))
    check(created.id, f"create: {created}")
    record("create", {"id": created.id, "callback_url": getattr(created, "callback_url", None)})
    listed = hooks(ss)
    record("list", str(listed))
    check(str(created.id) in str(listed), f"list misses {created.id}: {listed}")
    record("wrong_secret", refused(lambda: hooks(client(SK + "x")), 401, "a wrong secret"))
    ss.delete_hook(model.DeleteHookRequest(**REPO, hook_id=str(created.id)))
    check(str(created.id) not in str(hooks(ss)), "list after delete")
    record("delete", created.id)


run(main)
