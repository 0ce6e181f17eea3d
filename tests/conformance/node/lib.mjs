// The harness the conformance scripts share: named cases, run in order, one JSON report printed last.
// Python (tests/conformance/test_conformance_node.py) reads the report and asserts per case.
export const BASE = process.env.OR_BASE_URL;
export const KEY = process.env.OR_KEY;
export const CHAT_MODEL = "google/gemini-2.5-flash-image";
export const IMAGE_MODEL = "black-forest-labs/flux.2-pro";
export const ASK = [{ role: "user", content: "a red circle above blue waves" }];

const cases = [];
export function test(name, fn) {
  cases.push([name, fn]);
}

export async function run() {
  const report = {};
  const only = process.argv.slice(2);
  for (const [name, fn] of cases) {
    if (only.length && !only.includes(name)) continue;
    try {
      report[name] = { ok: true, detail: (await fn()) ?? null };
    } catch (err) {
      const issues = err?.issues ?? err?.cause?.issues ?? err?.rawValue?.issues;
      report[name] = { ok: false, error: `${err?.name}: ${err?.message}`.slice(0, 3000),
                       issues: issues ? JSON.stringify(issues).slice(0, 3000) : undefined };
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

export async function http(method, path, body, { key = KEY, raw } = {}) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  if (body !== undefined || raw !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + path, {
    method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function fault(spec) {
  const res = await http("POST", "/_faults", spec);
  if (res.status !== 200) throw new Error(`could not script fault ${JSON.stringify(spec)}: ${res.text}`);
}

/** The data payloads of an SSE body (comments skipped) and whether [DONE] ended it. */
export function sseData(text) {
  const events = [];
  let done = false;
  for (const block of text.replace(/\r\n?/g, "\n").split("\n\n")) {
    const lines = block.split("\n").filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""));
    if (!lines.length) continue;
    const data = lines.join("\n");
    if (data === "[DONE]") done = true;
    else events.push(data);
  }
  return { events, done };
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

let saved = 0;
/** Write base64 images to OR_OUT_DIR (for Pillow on the Python side); returns their paths. */
export async function keep(images) {
  const { writeFile } = await import("node:fs/promises");
  const paths = [];
  for (const { b64, mediaType } of images) {
    const path = `${process.env.OR_OUT_DIR}/image-${saved++}`;
    await writeFile(path, Buffer.from(b64, "base64"));
    paths.push({ path, mediaType: mediaType ?? null, b64Length: b64.length });
  }
  return paths;
}
