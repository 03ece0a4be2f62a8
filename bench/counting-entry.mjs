// A bench-only entry in front of the built worker: the same worker, with its KV binding and its
// ledger namespace wrapped to count KV operations and requests to the targets' ledger objects.
// GET /__kv answers the counts since the last read and resets them. Never deployed.
import { WorkerEntrypoint } from "cloudflare:workers";
import Hookrelay from "../build/index.js";
// The Durable Object classes, which the LEDGER and SCHEDULES bindings name in this same script.
export { TargetLedger, TriggerSchedule } from "../build/index.js";

const zero = () => ({ reads: 0, writes: 0, lists: 0, deletes: 0, do_requests: 0 });
const counts = zero();

function counting(kv) {
  return {
    get: (...args) => (counts.reads++, kv.get(...args)),
    put: (...args) => (counts.writes++, kv.put(...args)),
    list: (...args) => (counts.lists++, kv.list(...args)),
    delete: (...args) => (counts.deletes++, kv.delete(...args)),
  };
}

// workers-rs checks a binding's constructor name, so the wrapper carries the platform's.
class DurableObjectNamespace {
  constructor(inner) {
    this.inner = inner;
  }
  idFromName(name) {
    return this.inner.idFromName(name);
  }
  idFromString(id) {
    return this.inner.idFromString(id);
  }
  newUniqueId(options) {
    return this.inner.newUniqueId(options);
  }
  get(id, options) {
    const stub = this.inner.get(id, options);
    return { id: stub.id, fetch: (...args) => (counts.do_requests++, stub.fetch(...args)) };
  }
}

export default class extends WorkerEntrypoint {
  inner() {
    return new Hookrelay(this.ctx, { ...this.env, TRIGGERS: counting(this.env.TRIGGERS), LEDGER: new DurableObjectNamespace(this.env.LEDGER) });
  }

  fetch(request) {
    if (new URL(request.url).pathname === "/__kv") {
      const answer = Response.json(counts);
      Object.assign(counts, zero());
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
