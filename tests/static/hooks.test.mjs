// On Node 20, a test file's root-level `before` hooks run concurrently, not one after another: a
// file with two of them (a hook of its own beside withWorkerAndMock's, say) races, and passes or
// fails by luck (the browser test failed this way on a fresh machine). This check fails loudly
// instead: no test file may have more than one root-level `before` hook. Set-up that needs the
// worker goes into withWorkerAndMock's `then` option.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const TESTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The root-level `before` hooks a test file's source registers, by line number. */
export function rootBeforeHooks(source) {
  // `before` under any name it was imported as (`import { before as setup } from "node:test"`),
  // and the harness's withWorkerAndMock, which registers one.
  const names = ["before", "withWorkerAndMock"];
  for (const [, imported] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']node:test["']/g)) {
    for (const [, alias] of imported.matchAll(/\bbefore\s+as\s+(\w+)/g)) names.push(alias);
  }
  const call = new RegExp(`^(?:export\\s+)?(?:(?:const|let|var)\\s+\\w+\\s*=\\s*)?(?:${names.join("|")})\\s*\\(`);
  const hooks = [];
  source.split("\n").forEach((line, index) => {
    // Root level: the statement starts in column 0 (nested hooks are indented by the house style).
    if (call.test(line)) hooks.push(index + 1);
  });
  return hooks;
}

function testFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fuzz" ? [] : testFiles(full);
    return entry.name.endsWith(".test.mjs") ? [full] : [];
  });
}

test("the check finds two root-level before hooks, and accepts one", () => {
  assert.deepEqual(rootBeforeHooks('const env = withWorkerAndMock();\nbefore(async () => {});\n'), [1, 2]);
  assert.deepEqual(rootBeforeHooks("before(async () => {\n  before(() => {});\n});\n"), [1]);
  assert.deepEqual(rootBeforeHooks('const env = withWorkerAndMock({}, { then: start });\n'), [1]);
  assert.deepEqual(rootBeforeHooks('export const env = withWorkerAndMock();\nbefore(() => {});\n'), [1, 2]);
  const aliased = 'import { test, before as setUp } from "node:test";\nconst env = withWorkerAndMock();\nsetUp(() => {});\n';
  assert.deepEqual(rootBeforeHooks(aliased), [2, 3]);
});

test("no test file has two root-level before hooks (they would run concurrently)", () => {
  const files = testFiles(TESTS);
  assert.ok(files.length >= 10, `found the test files (${files.length})`);
  for (const file of files) {
    const hooks = rootBeforeHooks(fs.readFileSync(file, "utf8"));
    assert.ok(hooks.length <= 1, `${path.relative(TESTS, file)} has root-level before hooks at lines ${hooks.join(", ")}; they run concurrently on Node 20: use one hook, or withWorkerAndMock's then option`);
  }
});
