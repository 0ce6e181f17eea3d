// The server's bytes validated with @openrouter/sdk's own zod schemas: the ones its operations
// (funcs/*.js) parse each answer with, so a failure here is a failure of the SDK itself.
import * as models from "@openrouter/sdk/models";
import * as operations from "@openrouter/sdk/models/operations";
import { ASK, BASE, CHAT_MODEL, IMAGE_MODEL, assert, fault, http, run, sseData, test } from "./lib.mjs";

const chatBody = (extra = {}) => ({
  model: CHAT_MODEL, messages: ASK, modalities: ["image", "text"], ...extra,
});
const json = (res) => JSON.parse(res.text);

test("chat_json", async () => {
  const res = await http("POST", "/chat/completions", chatBody());
  assert(res.status === 200, `status ${res.status}`);
  const result = models.ChatResult$inboundSchema.parse(json(res));
  assert(result.choices[0].message.images.length === 1, "one image");
});

test("chat_stream", async () => {
  const res = await http("POST", "/chat/completions", chatBody({ stream: true }));
  const { events, done } = sseData(res.text);
  assert(done, "[DONE]");
  for (const data of events) models.ChatStreamingResponse$inboundSchema.parse({ data });
  return { chunks: events.length };
});

test("chat_stream_error", async () => {
  await fault({ kind: "stream-error", model: CHAT_MODEL });
  const res = await http("POST", "/chat/completions", chatBody({ stream: true }));
  const { events } = sseData(res.text);
  const last = models.ChatStreamChunk$inboundSchema.parse(JSON.parse(events.at(-1)));
  assert(last.error?.code === 429, "error chunk");
});

const ERRORS = {
  400: "BadRequest", 401: "Unauthorized", 402: "PaymentRequired", 403: "Forbidden",
  404: "NotFound", 408: "RequestTimeout", 413: "PayloadTooLarge", 422: "UnprocessableEntity",
  429: "TooManyRequests", 500: "InternalServer", 502: "BadGateway", 503: "ServiceUnavailable",
  524: "EdgeNetworkTimeout", 529: "ProviderOverloaded",
};

test("error_envelopes", async () => {
  const checked = [];
  for (const path of ["/chat/completions", "/images"]) {
    for (const [status, name] of Object.entries(ERRORS)) {
      await fault({ kind: status, path });
      const body = path === "/images" ? { model: IMAGE_MODEL, prompt: "a cat" } : chatBody();
      const res = await http("POST", path, body);
      assert(res.status === Number(status), `${path} ${status}: got ${res.status}`);
      const err = models[`${name}ResponseErrorData$inboundSchema`].parse(json(res).error);
      assert(err.code === Number(status), `${path} ${status}: code ${err.code}`);
      checked.push(`${path} ${status}`);
    }
  }
  const natural = [
    [await http("POST", "/chat/completions", chatBody(), { key: "sk-or-v1-wrong" }), 401],
    [await http("POST", "/chat/completions", undefined, { raw: "{not json" }), 400],
    [await http("POST", "/chat/completions", chatBody({ model: "nobody/none" })), 400],
    [await http("POST", "/images/generations", { model: IMAGE_MODEL, prompt: "x" }), 404],
  ];
  for (const [res, status] of natural) {
    assert(res.status === status, `natural ${status}: got ${res.status}`);
    models[`${ERRORS[status]}ResponseErrorData$inboundSchema`].parse(json(res).error);
  }
  return { checked: checked.length + natural.length };
});

test("models", async () => {
  const res = await http("GET", "/models?output_modalities=image", undefined, { key: null });
  const listing = models.ModelsListResponse$inboundSchema.parse(json(res));
  assert(listing.data.some((m) => m.id === CHAT_MODEL), "gemini listed");
  return { count: listing.data.length };
});

test("models_count", async () => {
  const res = await http("GET", "/models/count");
  models.ModelsCountResponse$inboundSchema.parse(json(res));
});

test("models_user", async () => {
  const res = await http("GET", "/models/user");
  operations.ListModelsUserResponse$inboundSchema.parse({ Result: json(res) });
});

test("model", async () => {
  const res = await http("GET", `/model/${CHAT_MODEL}`);
  assert(models.ModelResponse$inboundSchema.parse(json(res)).data.id === CHAT_MODEL, "id");
});

test("model_endpoints", async () => {
  const res = await http("GET", `/models/${CHAT_MODEL}/endpoints`);
  operations.ListEndpointsResponse$inboundSchema.parse(json(res));
});

test("image_models", async () => {
  const res = await http("GET", "/images/models");
  const listing = models.ImageModelsListResponse$inboundSchema.parse(json(res));
  for (const item of listing.data) {
    const rec = await http("GET", new URL(item.endpoints, BASE).pathname.replace(/^\/api\/v1/, ""));
    models.ImageModelEndpointsResponse$inboundSchema.parse(json(rec));
  }
  return { count: listing.data.length };
});

test("images_json", async () => {
  const res = await http("POST", "/images", { model: IMAGE_MODEL, prompt: "a red circle" });
  const answer = models.ImageGenerationResponse$inboundSchema.parse(json(res));
  assert(answer.data.length === 1, "one image");
});

async function streamingModel() {
  const listing = json(await http("GET", "/images/models")).data;
  return listing.find((m) => m.supports_streaming && !m.id.startsWith("offline/")).id;
}

test("images_sse", async () => {
  const res = await http("POST", "/images", { model: await streamingModel(), prompt: "a cat", stream: true });
  const { events, done } = sseData(res.text);
  assert(done, "[DONE]");
  const types = events.map((data) => models.ImageStreamingResponse$inboundSchema.parse({ data }).data.type);
  assert(types.at(-1) === "image_generation.completed", `last event ${types.at(-1)}`);
  return { types };
});

test("images_sse_error", async () => {
  await fault({ kind: "stream-error", path: "/images" });
  const res = await http("POST", "/images", { model: await streamingModel(), prompt: "a cat", stream: true });
  const { events } = sseData(res.text);
  const last = models.ImageStreamingResponse$inboundSchema.parse({ data: events.at(-1) }).data;
  assert(last.type === "error", `last event ${last.type}`);
});

test("key", async () => {
  operations.GetCurrentKeyResponse$inboundSchema.parse(json(await http("GET", "/key")));
});

test("generation", async () => {
  const made = json(await http("POST", "/chat/completions", chatBody()));
  // A generation's record appears a moment after its answer, as on the real service (a 404
  // until then): ask again for up to five seconds, as a client that reconciles would.
  let res = await http("GET", `/generation?id=${made.id}`);
  for (let tries = 0; res.status === 404 && tries < 50; tries++) {
    await new Promise((done) => setTimeout(done, 100));
    res = await http("GET", `/generation?id=${made.id}`);
  }
  assert(models.GenerationResponse$inboundSchema.parse(json(res)).data.id === made.id, "id");
});

await run();
