import { startWorker, closedPort } from "./harness.mjs";
const w = await startWorker();
const port = await closedPort();
for (const [name, url] of [["closed", `http://127.0.0.1:${port}/x`], ["nxdomain", "http://hookrelay-e2e.invalid/x"]]) {
  const t = await w.call("POST", "/api/v1/targets", { as: "alice", json: { name, kind: "http", url } });
  const tr = await w.call("POST", "/api/v1/triggers", { as: "alice", json: { target: name } });
  const f = await w.call("POST", `/api/v4/projects/${name}/trigger/pipeline`, { body: new URLSearchParams({ token: tr.body.token, ref: "main" }) });
  console.log(name, t.status, tr.status, f.status, f.text);
}
await new Promise((r) => setTimeout(r, 12000));
await w.stop();
