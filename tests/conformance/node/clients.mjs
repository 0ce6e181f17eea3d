// Real client flows, clients unchanged: the AI SDK with OpenRouter's provider, the official
// @openrouter/sdk, and openai for Node. Images go back to Python (base64) to be decoded by Pillow.
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { OpenRouter } from "@openrouter/sdk";
import { generateImage, generateText, streamText } from "ai";
import OpenAI from "openai";
import { ASK, BASE, CHAT_MODEL, IMAGE_MODEL, KEY, assert, http, keep, run, test } from "./lib.mjs";

const PROMPT = ASK[0].content;
const MODALITIES = { modalities: ["image", "text"], image_config: { aspect_ratio: "16:9" } };
const provider = createOpenRouter({ apiKey: KEY, baseURL: BASE });
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const fromUrl = (url) => url.split(",", 2)[1];

test("aisdk_generate_text", async () => {
  const result = await generateText({
    model: provider.chat(CHAT_MODEL, { extraBody: MODALITIES }), prompt: PROMPT, maxRetries: 0,
  });
  return { text: result.text, finishReason: result.finishReason,
           images: await keep(result.files.map((f) => ({ mediaType: f.mediaType, b64: f.base64 }))),
           usage: result.usage.outputTokens };
});

test("aisdk_stream_text", async () => {
  const result = streamText({
    model: provider.chat(CHAT_MODEL, { extraBody: MODALITIES }), prompt: PROMPT, maxRetries: 0,
    onError: ({ error }) => { throw error; },
  });
  let text = "";
  const images = [];
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") text += part.text;
    if (part.type === "file") images.push({ mediaType: part.file.mediaType, b64: part.file.base64 });
    if (part.type === "error") throw part.error;
  }
  return { text, images: await keep(images), finishReason: await result.finishReason,
           usage: (await result.usage).outputTokens };
});

async function aiImage(model) {
  const { images } = await generateImage({
    model: provider.imageModel(model), prompt: PROMPT, aspectRatio: "16:9", maxRetries: 0,
  });
  return { images: await keep(images.map((f) => ({ mediaType: f.mediaType, b64: f.base64 }))) };
}
test("aisdk_generate_image_gemini", () => aiImage(CHAT_MODEL));
test("aisdk_generate_image_api_model", () => aiImage(IMAGE_MODEL));

const sdk = () => new OpenRouter({ apiKey: KEY, serverURL: BASE, retryConfig: { strategy: "none" } });

test("sdk_chat_send", async () => {
  const result = await sdk().chat.send({ chatRequest: {
    model: CHAT_MODEL, messages: ASK, modalities: ["image", "text"],
    imageConfig: { aspect_ratio: "16:9" } } });
  const message = result.choices[0].message;
  return { text: message.content, images: await keep(message.images.map((i) => ({ b64: fromUrl(i.imageUrl.url) }))),
           cost: result.usage.cost };
});

test("sdk_chat_stream", async () => {
  // Limitation of the SDK itself: its ChatStreamDelta schema has no `images`, so streamed images
  // are dropped by zod; text and usage are what this flow can assert.
  const stream = await sdk().chat.send({ chatRequest: {
    model: CHAT_MODEL, messages: ASK, modalities: ["image", "text"], stream: true } });
  let text = "";
  let usage;
  let dropped = 0;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      if ("images" in choice.delta) dropped -= 1;
    }
    usage = chunk.usage ?? usage;
  }
  assert(usage, "usage on the last chunk");
  return { text, completionTokens: usage.completionTokens, imagesSeen: -dropped };
});

test("sdk_models_list", async () => {
  const { result: listing } = await sdk().models.list({ outputModalities: "image" });
  return { ids: listing.data.map((m) => m.id), total: listing.totalCount };
});

test("sdk_models_count", async () => {
  const count = await sdk().models.count({ outputModalities: "image" });
  const { result: listing } = await sdk().models.list({ outputModalities: "image" });
  return { count: count.data.count, total: listing.totalCount };
});

test("sdk_image_models", async () => {
  const listing = await sdk().images.listModels();
  return { ids: listing.data.map((m) => m.id) };
});

test("sdk_images_generate", async () => {
  const answer = await sdk().images.generate({ imageGenerationRequest: {
    model: IMAGE_MODEL, prompt: PROMPT, aspectRatio: "16:9" } });
  return { images: await keep(answer.data.map((d) => ({ mediaType: d.mediaType, b64: d.b64Json }))) };
});

const oai = () => new OpenAI({ apiKey: KEY, baseURL: BASE, maxRetries: 0 });

test("openai_chat", async () => {
  const completion = await oai().chat.completions.create({
    model: CHAT_MODEL, messages: ASK, ...MODALITIES });
  const message = completion.choices[0].message;
  return { text: message.content, images: await keep(message.images.map((i) => ({ b64: fromUrl(i.image_url.url) }))),
           provider: completion.provider, cost: completion.usage.cost };
});

test("openai_chat_stream", async () => {
  const stream = await oai().chat.completions.create({
    model: CHAT_MODEL, messages: ASK, ...MODALITIES, stream: true });
  let text = "";
  let usage;
  const images = [];
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      for (const image of choice.delta.images ?? []) images.push({ b64: fromUrl(image.image_url.url) });
    }
    usage = chunk.usage ?? usage;
  }
  return { text, images: await keep(images), completionTokens: usage?.completion_tokens };
});

test("openai_images_post", async () => {
  // openai's images.generate() posts to /images/generations, which is not an OpenRouter route
  // (a 404 on the real service too); the client's generic post() reaches /images unchanged.
  const answer = await oai().post("/images", { body: {
    model: IMAGE_MODEL, prompt: PROMPT, aspect_ratio: "16:9" } });
  let status;
  try {
    await oai().images.generate({ model: IMAGE_MODEL, prompt: PROMPT });
  } catch (err) {
    status = err.status;
  }
  return { images: await keep(answer.data.map((d) => ({ mediaType: d.media_type, b64: d.b64_json }))),
           generationsStatus: status };
});

test("openai_stream_error", async () => {
  const res = await http("POST", "/_faults", { kind: "stream-error", model: CHAT_MODEL });
  assert(res.status === 200, "fault scripted");
  const stream = await oai().chat.completions.create({
    model: CHAT_MODEL, messages: ASK, ...MODALITIES, stream: true });
  try {
    for await (const _chunk of stream) { /* the error chunk must raise */ }
  } catch (err) {
    return { name: err.constructor.name, message: err.message };
  }
  throw new Error("no error raised for the mid-stream error chunk");
});

await run();
