// A bench-only entry in front of the built worker: the same worker, with its KV binding wrapped to
// count operations. GET /__kv answers the counts since the last read and resets them. Never deployed.
import { WorkerEntrypoint } from "cloudflare:workers";
import Hookrelay from "../build/index.js";
// The Durable Object classes, which the LEDGER and SCHEDULES bindings name in this same script.
export { TargetLedger, TriggerSchedule } from "../build/index.js";

const counts = { reads: 0, writes: 0, lists: 0, deletes: 0 };

function counting(kv) {
  return {
    get: (...args) => (counts.reads++, kv.get(...args)),
    put: (...args) => (counts.writes++, kv.put(...args)),
    list: (...args) => (counts.lists++, kv.list(...args)),
    delete: (...args) => (counts.deletes++, kv.delete(...args)),
  };
}

export default class extends WorkerEntrypoint {
  inner() {
    return new Hookrelay(this.ctx, { ...this.env, TRIGGERS: counting(this.env.TRIGGERS) });
  }

  fetch(request) {
    if (new URL(request.url).pathname === "/__kv") {
      const answer = Response.json(counts);
      Object.assign(counts, { reads: 0, writes: 0, lists: 0, deletes: 0 });
      return answer;
    }
    return this.inner().fetch(request);
  }

  queue(batch) {
    return this.inner().queue(batch);
  }

  scheduled(event) {
    return this.inner().scheduled(event);
  }
}
