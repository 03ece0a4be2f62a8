"""Alibaba's ACK client (alibabacloud-cs20151215, signing with ACS3-HMAC-SHA256 by default) against
the worker's ACK-compatible API, with an ADMIN_ACCESS_KEYS pair: create, describe and delete a
redeploy trigger on the kubernetes target CLUSTER; the same describe signed with the legacy ROA
scheme; a firing through /hook/trigger; and three refusals (401): a wrong secret, a date 20 minutes
old (the SDK's clock helper patched, as tests/fixtures vectors were made) and a body changed after
signing (the SDK's transport call wrapped)."""
import datetime
import json
import urllib.parse
import urllib.request

from alibabacloud_cs20151215 import models
from alibabacloud_cs20151215.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils
from darabonba.core import DaraCore
from darabonba.runtime import RuntimeOptions

from common import arg_url, check, env, record, refused, run

URL = arg_url()
AK, SK = env("HOOKRELAY_AK"), env("HOOKRELAY_SK")
CLUSTER = env("HOOKRELAY_CLUSTER")  # a kubernetes target's name


def client(secret=SK, **extra):
    endpoint = urllib.parse.urlsplit(URL).netloc
    return Client(Config(access_key_id=AK, access_key_secret=secret, endpoint=endpoint, protocol="http",
                         region_id="cn-hangzhou", **extra))


def describe(ack):
    request = models.DescribeTriggerRequest(name="web", namespace="default", type="deployment")
    return ack.describe_trigger_with_options(CLUSTER, request, {}, RuntimeOptions()).body


def create(ack, project_id="default/web"):
    request = models.CreateTriggerRequest(cluster_id=CLUSTER, project_id=project_id, action="redeploy",
                                          type="deployment")
    return ack.create_trigger_with_options(CLUSTER, request, {}, RuntimeOptions())


def main():
    ack = client()
    # The SDK's response model has no `token` field: keep the raw answer of create to read it.
    raw = {}
    call_api = ack.call_api
    ack.call_api = lambda *a: raw.setdefault("answer", call_api(*a))
    created = create(ack).body
    ack.call_api = call_api
    check(created.id and created.project_id == "default/web", f"create: {created.to_map()}")
    token = raw["answer"]["body"]["token"]
    check(token.startswith("hrtt_"), "create answered no token")
    record("create", created.to_map())

    found = describe(ack)
    check([t.id for t in found] == [created.id], f"describe: {[t.to_map() for t in found]}")
    record("describe", [t.to_map() for t in found])
    roa = describe(client(signature_algorithm="v2"))
    check([t.id for t in roa] == [created.id], "describe signed with legacy ROA")
    record("describe_legacy_roa", len(roa))

    with urllib.request.urlopen(f"{URL}/hook/trigger?token={urllib.parse.quote(token)}", timeout=30) as answer:
        record("hook_trigger", {"status": answer.status, "body": json.loads(answer.read() or b"null")})
        check(answer.status in (200, 202), f"/hook/trigger answered {answer.status}")

    record("wrong_secret", refused(lambda: describe(client(secret=SK + "x")), 401, "a wrong secret"))

    now = Utils.get_timestamp
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    Utils.get_timestamp = staticmethod(lambda: stale.strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        record("stale_date", refused(lambda: describe(ack), 401, "a date 20 minutes old"))
    finally:
        Utils.get_timestamp = now

    do_action = DaraCore.do_action

    def tampered(request, runtime):  # the request is signed by now; change its body, same length
        request.body = request.body.replace("default/api", "default/xyz")
        return do_action(request, runtime)

    DaraCore.do_action = staticmethod(tampered)
    try:
        record("tampered_body", refused(lambda: create(ack, "default/api"), 401, "a body changed after signing"))
    finally:
        DaraCore.do_action = staticmethod(do_action)

    ack.delete_trigger_with_options(CLUSTER, created.id, {}, RuntimeOptions())
    check(describe(ack) == [], "describe after delete")
    record("delete", created.id)


run(main)
