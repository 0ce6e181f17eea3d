// The zoom view's region edit: drag a box (or paint) over the enlarged image, describe the
// change, and the kernel edits only that region (ImageResult.edit(mask=...): the answer is
// composited back inside a feathered mask, so every pixel outside it stays as it was).
// The region is sent in the image's own pixels: a box as numbers, a painted mask as a PNG
// drawn at full size (opaque where painted), never as anything the page renders.

import { el } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/**
 * Strokes are kept in image pixels, so the mask is drawn at full size whatever the zoom.
 * @typedef {{x: number, y: number}} Point
 * @typedef {{mode: "box" | "paint", box: [number, number, number, number] | null,
 *   strokes: Point[][], radius: number}} Region
 */

/**
 * Image pixels per displayed pixel (the full size may not have arrived: the thumbnail is shown).
 * @param {HTMLImageElement} img
 * @param {{width: number, height: number}} full
 */
function scaleOf(img, full) {
  const rect = img.getBoundingClientRect();
  return { sx: full.width / Math.max(1, rect.width), sy: full.height / Math.max(1, rect.height), rect };
}

/**
 * Draw the region over the image, in displayed pixels.
 * @param {HTMLCanvasElement} canvas
 * @param {Region} region
 * @param {{sx: number, sy: number}} scale
 */
function paintRegion(canvas, region, scale) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "rgba(255, 80, 40, 0.40)";
  ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
  ctx.lineWidth = 2;
  if (region.mode === "box" && region.box) {
    const [l, t, r, b] = region.box;
    const x = l / scale.sx, y = t / scale.sy, w = (r - l) / scale.sx, h = (b - t) / scale.sy;
    ctx.fillRect(x, y, w, h);
    ctx.setLineDash([6, 4]);
    ctx.strokeRect(x, y, w, h);
  }
  for (const stroke of region.strokes) {
    for (const p of stroke) {
      ctx.beginPath();
      ctx.arc(p.x / scale.sx, p.y / scale.sy, region.radius / scale.sx, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

/**
 * The painted strokes as a full-size PNG: opaque white where painted, transparent elsewhere.
 * @param {Region} region
 * @param {{width: number, height: number}} full
 * @returns {Promise<ArrayBuffer | null>}
 */
async function maskPng(region, full) {
  const canvas = el("canvas");
  canvas.width = full.width;
  canvas.height = full.height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.fillStyle = "#fff";
  for (const stroke of region.strokes) {
    for (const p of stroke) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, region.radius, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return blob instanceof Blob ? blob.arrayBuffer() : null;
}

/**
 * Follow the pointer over the canvas: a box from press to release, or paint where it moves.
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLImageElement} img
 * @param {{width: number, height: number}} full
 * @param {Region} region
 * @param {() => void} changed
 */
function trackPointer(canvas, img, full, region, changed) {
  /** @type {Point | null} */
  let start = null;
  /** @param {PointerEvent} event */
  const at = (event) => {
    const { sx, sy, rect } = scaleOf(img, full);
    const x = Math.min(full.width, Math.max(0, (event.clientX - rect.left) * sx));
    const y = Math.min(full.height, Math.max(0, (event.clientY - rect.top) * sy));
    return { x: Math.round(x), y: Math.round(y) };
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture?.(event.pointerId);
    start = at(event);
    if (region.mode === "paint") region.strokes.push([start]);
    changed();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!start) return;
    const p = at(event);
    if (region.mode === "paint") region.strokes[region.strokes.length - 1].push(p);
    else region.box = [Math.min(start.x, p.x), Math.min(start.y, p.y), Math.max(start.x, p.x), Math.max(start.y, p.y)];
    changed();
  });
  const end = () => { start = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

/**
 * The form under the image: box or paint, the change to make, Apply and Cancel.
 * @param {Region} region
 * @param {() => void} changed
 */
function regionForm(region, changed) {
  const form = el("div", "ig-region-form");
  const box = el("button", "ig-button ig-region-box", "Box");
  const paint = el("button", "ig-button ig-region-paint", "Paint");
  const clear = el("button", "ig-button ig-region-clear", "Clear");
  const prompt = el("input", "ig-region-prompt");
  prompt.type = "text";
  prompt.placeholder = "Describe the change inside the region…";
  prompt.setAttribute("aria-label", "Change for the region");
  const apply = el("button", "ig-button ig-region-apply", "Edit region");
  const cancel = el("button", "ig-button ig-region-cancel", "Cancel");
  const pick = (/** @type {"box" | "paint"} */ mode, redraw = true) => {
    if (mode !== region.mode) {  // one kind of region at a time: what is drawn is what is sent
      region.box = null;
      region.strokes = [];
    }
    region.mode = mode;
    box.setAttribute("aria-pressed", String(mode === "box"));
    paint.setAttribute("aria-pressed", String(mode === "paint"));
    if (redraw) changed();
  };
  box.addEventListener("click", () => pick("box"));
  paint.addEventListener("click", () => pick("paint"));
  clear.addEventListener("click", () => { region.box = null; region.strokes = []; changed(); });
  pick("box", false);
  form.append(box, paint, clear, prompt, apply, cancel);
  return { form, prompt, apply, cancel };
}

/**
 * Turn the zoom panel's image into a region editor; `close` leaves it. Sends the "edit" message.
 * @param {View} view
 * @param {HTMLImageElement} img
 * @param {{key: string, index: number, width: number, height: number}} target
 * @param {() => void} close
 */
export function regionEditor(view, img, target, close) {
  const full = { width: target.width, height: target.height };
  /** @type {Region} */
  const region = { mode: "box", box: null, strokes: [], radius: Math.max(4, Math.round(Math.min(full.width, full.height) / 24)) };
  const frame = el("div", "ig-region-frame");
  img.replaceWith(frame);
  const canvas = el("canvas", "ig-region-canvas");
  canvas.setAttribute("aria-label", "Drag a box or paint over the part to change");
  frame.append(img, canvas);
  const fit = () => {
    const rect = img.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(rect.width));
    canvas.height = Math.max(1, Math.round(rect.height));
    changed();
  };
  const ready = () => Boolean(region.box && region.box[2] > region.box[0] && region.box[3] > region.box[1])
    || region.strokes.length > 0;
  const changed = () => {
    paintRegion(canvas, region, scaleOf(img, full));
    form.apply.disabled = !(ready() && form.prompt.value.trim());
  };
  const form = regionForm(region, changed);
  form.prompt.addEventListener("input", changed);
  img.addEventListener("load", fit);
  trackPointer(canvas, img, full, region, changed);
  form.cancel.addEventListener("click", close);
  form.apply.addEventListener("click", () => {
    const message = { type: "edit", key: target.key, index: target.index, prompt: form.prompt.value.trim() };
    close();  // at once: the status line says the edit is running; the mask follows when drawn
    if (!view.live) return;
    if (region.strokes.length) {
      void maskPng(region, full).then((png) => { if (png) view.model.send(message, undefined, [png]); });
    } else {
      view.model.send({ ...message, box: region.box });
    }
  });
  frame.after(form.form);
  fit();
  form.prompt.focus();
  return form.form;
}
