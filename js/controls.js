// The prompt, the controls row (aspect ratio, size, count, seed, input image, Generate/Cancel)
// and the hint line that says why Generate cannot be pressed.

import { currentModel, el, fillSelect, hasBytes, modelList, onChanges } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/**
 * @typedef {{prompt: HTMLTextAreaElement, row: HTMLDivElement, hint: HTMLDivElement,
 *   aspect: HTMLSelectElement, size: HTMLSelectElement, countBox: HTMLLabelElement,
 *   nInput: HTMLInputElement, seedBox: HTMLLabelElement, seedInput: HTMLInputElement,
 *   generate: HTMLButtonElement, cancel: HTMLButtonElement}} Controls
 */

/**
 * @param {Node[]} extra what goes in the row before Generate (the input image's nodes)
 * @returns {Controls}
 */
function buildControls(extra) {
  const prompt = el("textarea", "ig-prompt");
  prompt.rows = 3;
  prompt.placeholder = "Describe the image… (Ctrl/Cmd+Enter generates)";
  prompt.setAttribute("aria-label", "Prompt");
  const row = el("div", "ig-row ig-controls");
  const aspect = el("select", "ig-aspect");
  aspect.setAttribute("aria-label", "Aspect ratio");
  const size = el("select", "ig-size");
  size.setAttribute("aria-label", "Image size");
  const countBox = el("label", "ig-label ig-n-box", "Images ");
  const nInput = el("input", "ig-n");
  nInput.type = "number";
  nInput.min = "1";
  nInput.setAttribute("aria-label", "Number of images");
  countBox.append(nInput);
  const seedBox = el("label", "ig-label ig-seed-box", "Seed ");
  const seedInput = el("input", "ig-seed");
  seedInput.type = "number";
  seedInput.placeholder = "random";
  seedInput.setAttribute("aria-label", "Seed");
  seedBox.append(seedInput);
  const generate = el("button", "ig-button ig-generate", "Generate");
  generate.title = "Generate (Ctrl/Cmd+Enter)";
  const cancel = el("button", "ig-button ig-cancel", "Cancel");
  const go = el("div", "ig-go");
  go.append(generate, cancel);
  row.append(el("label", "ig-label", "Aspect"), aspect, el("label", "ig-label", "Size"), size,
    countBox, seedBox, ...extra, go);
  const hint = el("div", "ig-hint-line");
  hint.setAttribute("aria-live", "polite");
  return { prompt, row, hint, aspect, size, countBox, nInput, seedBox, seedInput, generate, cancel };
}

/** @param {Controls} c */
function readN(c) {
  if (c.countBox.hidden) return 1;
  const n = Math.round(Number(c.nInput.value));
  return Number.isFinite(n) ? Math.max(1, n) : 1;  // above the model's limit: blocked(), not cut
}

/** @param {Controls} c */
function readSeed(c) {
  if (c.seedInput.value.trim() === "" || c.seedBox.hidden) return null;
  const seed = Math.round(Number(c.seedInput.value));
  return Number.isFinite(seed) ? seed : null;
}

/**
 * Why Generate cannot be pressed now ("" when it can).
 * @param {View} view
 * @param {Controls} c
 */
function blocked(view, c) {
  const { model } = view;
  const entry = currentModel(model);
  if (!c.prompt.value.trim()) return "Type a prompt to generate an image.";
  if (!model.get("model")) return "Choose a model first.";
  const maxN = entry?.max_n ?? 1;
  if (maxN > 1 && readN(c) > maxN) {
    return `${entry?.name ?? "This model"} makes at most ${maxN} images per request: lower the number of images.`;
  }
  if (hasBytes(model.get("input_image")) && entry && !entry.accepts_images) {
    return `${entry.name} cannot take an input image: remove the image or pick a model that can.`;
  }
  return "";
}

/**
 * @param {View} view
 * @param {Controls} c
 */
function drawGo(view, c) {
  const running = view.model.get("status") === "running";
  const reason = running ? "" : blocked(view, c);
  c.generate.disabled = running || Boolean(reason);
  c.cancel.disabled = !running;
  c.hint.textContent = reason;
  c.hint.hidden = !reason;
}

/**
 * @param {View} view
 * @param {Controls} c
 */
function startGeneration(view, c) {
  const { model } = view;
  if (!view.live || model.get("status") === "running" || blocked(view, c)) return;
  view.set("prompt", c.prompt.value);
  // The inputs travel with the request: a state sync may still be held back by ipywidgets'
  // one-message-in-flight throttle, and custom messages are not queued behind it.
  model.send({
    type: "generate", prompt: c.prompt.value, model: model.get("model"),
    aspect_ratio: model.get("aspect_ratio"), image_size: model.get("image_size"),
    n: readN(c), seed: readSeed(c),
  });
}

/**
 * The controls the current model takes (its aspect ratios, sizes, how many images, a seed).
 * @param {View} view
 * @param {Controls} c
 */
function drawModelControls(view, c) {
  const { model } = view;
  const entry = currentModel(model);
  fillSelect(c.aspect, entry?.aspect_ratios ?? [], model.get("aspect_ratio"));
  fillSelect(c.size, entry?.sizes ?? [], model.get("image_size"));
  const maxN = entry?.max_n ?? 1;
  c.countBox.hidden = maxN <= 1;
  c.nInput.max = String(maxN);
  if (document.activeElement !== c.nInput) c.nInput.value = String(model.get("n") ?? 1);
  c.seedBox.hidden = !entry?.seed;
  const seed = model.get("seed");
  if (document.activeElement !== c.seedInput) c.seedInput.value = seed === null || seed === undefined ? "" : String(seed);
}

/**
 * Put an entry's prompt (and model, aspect ratio and size, when known) back in the traits.
 * @param {View} view
 * @param {HistoryEntry} entry
 */
export function restoreInputs(view, entry) {
  const { model } = view;
  model.set("prompt", entry.prompt);
  if (modelList(model).some((m) => m.id === entry.model)) model.set("model", entry.model);
  const target = currentModel(model);
  if (entry.aspect_ratio !== undefined) {
    const ratio = entry.aspect_ratio ?? "";
    if (!ratio || !target || target.aspect_ratios.includes(ratio)) model.set("aspect_ratio", ratio);
  }
  if (entry.image_size !== undefined) {
    const wanted = entry.image_size ?? "";
    if (!wanted || !target || target.sizes.includes(wanted)) model.set("image_size", wanted);
  }
  model.save_changes();
}

/**
 * The prompt, the controls row and the hint line, wired to the model.
 * @param {View} view
 * @param {Node[]} extra nodes for the row before Generate (the input image's)
 */
export function controlPanel(view, extra) {
  const { model, set } = view;
  const c = buildControls(extra);
  const { prompt, aspect, size, nInput, seedInput } = c;
  const go = () => drawGo(view, c);
  const drawPrompt = () => {
    if (prompt.value !== model.get("prompt")) prompt.value = model.get("prompt");
    go();
  };
  aspect.addEventListener("change", () => set("aspect_ratio", aspect.value));
  size.addEventListener("change", () => set("image_size", size.value));
  nInput.addEventListener("change", () => { nInput.value = String(readN(c)); set("n", readN(c)); go(); });
  nInput.addEventListener("input", go);
  seedInput.addEventListener("change", () => set("seed", readSeed(c)));
  prompt.addEventListener("input", () => { set("prompt", prompt.value); go(); });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      startGeneration(view, c);
    }
  });
  c.generate.addEventListener("click", () => startGeneration(view, c));
  c.cancel.addEventListener("click", () => model.send({ type: "cancel" }));
  const cleanup = onChanges(model, {
    aspect_ratio: () => { aspect.value = model.get("aspect_ratio"); },
    image_size: () => { size.value = model.get("image_size"); },
    prompt: drawPrompt,
  });
  return {
    prompt, row: c.row, hint: c.hint, drawGo: go, drawPrompt, cleanup,
    drawModel: () => drawModelControls(view, c),
  };
}
