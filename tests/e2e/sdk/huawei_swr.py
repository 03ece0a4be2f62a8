"""Huawei's SWR client (huaweicloudsdkswr, SDK-HMAC-SHA256) against the worker's SWR-compatible API,
with an ADMIN_ACCESS_KEYS pair: an image trigger's create, list, show, update and delete on the
kubernetes target CLUSTER; and a wrong secret, a date 20 minutes old (the signer's clock patched) and
a body changed after signing (the SDK's HTTP client wrapped) refused (401)."""
import datetime

import huaweicloudsdkcore.signer.signer as signer
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_client import HttpClient
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkswr.v2 import SwrClient
from huaweicloudsdkswr.v2 import model

from common import arg_url, check, env, record, refused, run

URL = arg_url()
AK, SK = env("HOOKRELAY_AK"), env("HOOKRELAY_SK")
CLUSTER = env("HOOKRELAY_CLUSTER")
NS, REPO, NAME = "library", "app", "sdk-e2e"


def client(secret=SK):
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    return (SwrClient.new_builder().with_http_config(config)
            .with_credentials(BasicCredentials(AK, secret, "0a1b2c3d4e5f60718293a4b5c6d7e8f9"))
            .with_endpoints([URL]).build())


def main():
    swr = client()
    body = model.CreateTriggerRequestBody(
        action="update", app_type="deployments", application="web", cluster_name=CLUSTER, cluster_ns="default",
        condition=".*", container="", enable="true", name=NAME, trigger_mode="cce", trigger_type="all")
    swr.create_trigger(model.CreateTriggerRequest(namespace=NS, repository=REPO, body=body))
    record("create", NAME)
    listed = swr.list_triggers_details(model.ListTriggersDetailsRequest(namespace=NS, repository=REPO)).body
    check([t.name for t in listed] == [NAME], f"list: {listed}")
    record("list", [t.name for t in listed])
    shown = swr.show_trigger(model.ShowTriggerRequest(namespace=NS, repository=REPO, trigger=NAME))
    check(shown.name == NAME and shown.enable == "true", f"show: {shown}")
    swr.update_trigger(model.UpdateTriggerRequest(namespace=NS, repository=REPO, trigger=NAME,
                                                  body=model.UpdateTriggerRequestBody(enable="false")))
    shown = swr.show_trigger(model.ShowTriggerRequest(namespace=NS, repository=REPO, trigger=NAME))
    check(shown.enable == "false", f"update: {shown}")
    record("update", {"enable": shown.enable})

    record("wrong_secret", refused(
        lambda: client(SK + "x").list_triggers_details(model.ListTriggersDetailsRequest(namespace=NS, repository=REPO)),
        401, "a wrong secret"))

    clock = signer.datetime

    class Stale(datetime.datetime):  # the signer reads datetime.utcnow() for X-Sdk-Date
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() - datetime.timedelta(minutes=20)

    signer.datetime = Stale
    try:
        record("stale_date", refused(
            lambda: swr.list_triggers_details(model.ListTriggersDetailsRequest(namespace=NS, repository=REPO)),
            401, "a date 20 minutes old"))
    finally:
        signer.datetime = clock

    send = HttpClient.do_request_sync

    def tampered(self, request):  # signed by now: turn {"enable":"false"} into {"enable":"true"}
        body = request.body
        request.body = body.replace(b"false", b"true") if isinstance(body, bytes) else body.replace("false", "true")
        check(request.body != body, f"nothing to tamper with in {body!r}")
        return send(self, request)

    HttpClient.do_request_sync = tampered
    try:
        record("tampered_body", refused(
            lambda: swr.update_trigger(model.UpdateTriggerRequest(
                namespace=NS, repository=REPO, trigger=NAME, body=model.UpdateTriggerRequestBody(enable="false"))),
            401, "a body changed after signing"))
    finally:
        HttpClient.do_request_sync = send
    shown = swr.show_trigger(model.ShowTriggerRequest(namespace=NS, repository=REPO, trigger=NAME))
    check(shown.enable == "false", f"the tampered update changed the trigger: {shown}")

    swr.delete_trigger(model.DeleteTriggerRequest(namespace=NS, repository=REPO, trigger=NAME))
    record("delete", refused(
        lambda: swr.show_trigger(model.ShowTriggerRequest(namespace=NS, repository=REPO, trigger=NAME)),
        404, "show after delete"))


run(main)
