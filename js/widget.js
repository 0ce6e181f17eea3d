// The ImageGenWidget front end: plain ESM with JSDoc types, no bundler (anywidget loads it as is).
//
// Rules this file keeps: model/prompt text only ever goes through textContent (never innerHTML);
// images arrive as binary buffers (DataView) and are shown through object URLs that are revoked
// when replaced and when the view goes away; the page never talks to the API, it only sets
// traits and sends {type: "generate" | "cancel" | "full"} messages to the kernel.

/**
 * @typedef {{id: string, name: string, price: number | null, accepts_images: boolean,
 *   aspect_ratios: string[], sizes: string[]}} ModelEntry
 * @typedef {{data: DataView, mime: string, width: number, height: number, index: number}} Picture
 * @typedef {{key: string, prompt: string, model: string, caption: string, cost: number | null,
 *   text: string, thumbs: Picture[], aspect_ratio?: string | null,
 *   image_size?: string | null}} HistoryEntry
 * @typedef {{model: string, prompt: string, aspect_ratio: string, image_size: string,
 *   input_image: DataView | null, input_mime: string, input_name: string, models: ModelEntry[],
 *   models_status: string, notice: string, status: string, status_text: string,
 *   stream_text: string, elapsed: number, error: string, latest: Picture[],
 *   history: HistoryEntry[]}} State
 * @typedef {import("@anywidget/types").AnyModel<State>} Model
 */

/** @type {Record<string, string>} */
const EXTENSIONS = { "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif" };

/**
 * Create an element with a class and optional text (always textContent).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** Object URLs owned by one part of the view, revoked together when that part is redrawn. */
class UrlBag {
  constructor() {
    /** @type {string[]} */
    this.urls = [];
  }
  /**
   * @param {DataView | ArrayBuffer} data
   * @param {string} mime
   */
  make(data, mime) {
    const bytes = data instanceof DataView
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)], { type: mime }));
    this.urls.push(url);
    return url;
  }
  revoke() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

/** @param {number | null} price */
function priceLabel(price) {
  if (price === null || price === undefined) return "price unknown";
  if (price === 0) return "free";
  return `$${price < 0.01 ? price.toFixed(4) : price.toFixed(3)}/image`;
}

/** @param {DataView | null | undefined} data */
function hasBytes(data) {
  return Boolean(data && data.byteLength > 0);
}

/**
 * @param {string} key
 * @param {Picture} picture
 */
function fileName(key, picture) {
  return `imagegen-${key}-${picture.index}${EXTENSIONS[picture.mime] ?? ".bin"}`;
}

/**
 * @param {HTMLSelectElement} select
 * @param {[string, string][]} options value/label pairs
 * @param {string} value
 */
function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => {
    const option = el("option", "", label);
    option.value = v;
    return option;
  }));
  select.value = value;
}

/** @param {{model: Model, el: HTMLElement}} context */
function render({ model, el: host }) {
  const bags = { latest: new UrlBag(), history: new UrlBag(), input: new UrlBag(), zoom: new UrlBag() };
  /** @type {Array<() => void>} */
  const undo = [];
  /**
   * Listen to a model event and remember to stop listening on cleanup.
   * @param {string} name
   * @param {(...args: any[]) => void} fn
   */
  const on = (name, fn) => {
    model.on(name, fn);
    undo.push(() => model.off(name, fn));
  };
  /**
   * @param {keyof State} name
   * @param {any} value
   */
  const set = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  const root = el("div", "ig-root");
  // Keys typed here (Ctrl+Enter, a, b, d d ...) belong to the widget, not to notebook shortcuts.
  root.setAttribute("data-lm-suppress-shortcuts", "true");

  // -- model picker ---------------------------------------------------------------------------
  const modelRow = el("div", "ig-row ig-model-row");
  const modelLabel = el("label", "ig-label", "Model");
  const filter = el("input", "ig-filter");
  filter.type = "search";
  filter.placeholder = "Filter models…";
  filter.setAttribute("aria-label", "Filter models");
  const select = el("select", "ig-model");
  select.setAttribute("aria-label", "Model");
  const price = el("span", "ig-price");
  modelRow.append(modelLabel, filter, select, price);
  const notice = el("div", "ig-notice");
  notice.setAttribute("role", "status");

  // -- prompt and controls ----------------------------------------------------------------------
  const prompt = el("textarea", "ig-prompt");
  prompt.rows = 3;
  prompt.placeholder = "Describe the image… (Ctrl/Cmd+Enter generates)";
  prompt.setAttribute("aria-label", "Prompt");

  const controls = el("div", "ig-row ig-controls");
  const aspect = el("select", "ig-aspect");
  aspect.setAttribute("aria-label", "Aspect ratio");
  const size = el("select", "ig-size");
  size.setAttribute("aria-label", "Image size");
  const drop = el("div", "ig-drop");
  drop.setAttribute("aria-label", "Input image");
  const fileInput = el("input", "ig-file");
  fileInput.type = "file";
  fileInput.accept = "image/png,image/jpeg,image/webp,image/gif";
  fileInput.hidden = true;
  const generate = el("button", "ig-button ig-generate", "Generate");
  generate.title = "Generate (Ctrl/Cmd+Enter)";
  const cancel = el("button", "ig-button ig-cancel", "Cancel");
  const spacer = el("span", "ig-spacer");
  controls.append(el("label", "ig-label", "Aspect"), aspect, el("label", "ig-label", "Size"), size,
    drop, fileInput, spacer, generate, cancel);

  // -- status, error, results --------------------------------------------------------------------
  const status = el("div", "ig-status");
  status.setAttribute("aria-live", "polite");
  const spinner = el("span", "ig-spinner");
  const elapsed = el("span", "ig-elapsed");
  const statusText = el("span", "ig-status-text");
  status.append(spinner, elapsed, statusText);
  const stream = el("div", "ig-stream");
  const error = el("div", "ig-error");
  error.setAttribute("role", "alert");
  const latest = el("div", "ig-latest");
  const historyBox = el("div", "ig-history");
  const zoom = el("div", "ig-zoom");
  zoom.hidden = true;

  root.append(modelRow, notice, prompt, controls, status, stream, error, latest, historyBox, zoom);
  host.append(root);

  // -- behaviour --------------------------------------------------------------------------------
  /** @returns {ModelEntry | undefined} */
  const currentEntry = () => model.get("models").find((m) => m.id === model.get("model"));

  const drawModels = () => {
    const all = model.get("models");
    const current = model.get("model");
    const needle = filter.value.trim().toLowerCase();
    const shown = all.filter((m) => !needle || m.id.toLowerCase().includes(needle)
      || m.name.toLowerCase().includes(needle));
    /** @type {[string, string][]} */
    const options = shown.map((m) => [m.id, `${m.name} — ${priceLabel(m.price)}`]);
    if (current && !shown.some((m) => m.id === current)) {
      const entry = all.find((m) => m.id === current);
      options.unshift([current, entry ? `${entry.name} — ${priceLabel(entry.price)}` : current]);
    }
    if (!current) options.unshift(["", model.get("models_status") === "loading" ? "Loading models…" : "Choose a model"]);
    fillSelect(select, options, current);
    const entry = currentEntry();
    price.textContent = entry ? priceLabel(entry.price) : "";
    select.title = current;
    /** @type {[string, string][]} */
    const ratios = [["", "auto"], ...(entry?.aspect_ratios ?? []).map((r) => /** @type {[string, string]} */ ([r, r]))];
    fillSelect(aspect, ratios, model.get("aspect_ratio"));
    /** @type {[string, string][]} */
    const sizes = [["", "auto"], ...(entry?.sizes ?? []).map((s) => /** @type {[string, string]} */ ([s, s]))];
    fillSelect(size, sizes, model.get("image_size"));
    drawNotice();
    drawInput();
  };

  const drawNotice = () => {
    let text = model.get("notice");
    if (!text && model.get("models_status") === "ready" && !model.get("model")) {
      text = "No image model is selected: choose one from the list.";
    }
    notice.textContent = text;
    notice.hidden = !text;
  };

  const drawInput = () => {
    bags.input.revoke();
    drop.replaceChildren();
    const data = model.get("input_image");
    const entry = currentEntry();
    if (hasBytes(data)) {
      const thumb = el("img", "ig-input-thumb");
      thumb.alt = "input image";
      thumb.src = bags.input.make(/** @type {DataView} */ (data), model.get("input_mime") || "image/png");
      const name = el("span", "ig-input-name", model.get("input_name") || "input image");
      const clear = el("button", "ig-link", "×");
      clear.title = "Remove the input image";
      clear.setAttribute("aria-label", "Remove the input image");
      clear.addEventListener("click", () => {
        model.set("input_image", new DataView(new ArrayBuffer(0)));
        model.set("input_mime", "");
        set("input_name", "");
      });
      drop.append(thumb, name, clear);
      if (entry && !entry.accepts_images) {
        drop.append(el("span", "ig-warn", "this model does not take input images"));
      }
    } else {
      const choose = el("button", "ig-link", "add an image");
      choose.addEventListener("click", () => fileInput.click());
      drop.append(el("span", "ig-hint", "Edit: drop an image or "), choose);
    }
  };

  /** @param {File | undefined | null} file */
  const takeFile = async (file) => {
    if (!file) return;
    if (!/^image\/(png|jpeg|webp|gif)$/.test(file.type)) {
      error.textContent = `${file.name} is not a PNG, JPEG, WebP or GIF image.`;
      error.hidden = false;
      return;
    }
    const buffer = await file.arrayBuffer();
    model.set("input_mime", file.type);
    model.set("input_name", file.name);
    set("input_image", new DataView(buffer));
  };

  /** @param {DragEvent} event */
  const onDragOver = (event) => {
    event.preventDefault();
    event.stopPropagation();
    root.classList.add("ig-dragging");
  };
  /** @param {DragEvent} event */
  const onDrop = (event) => {
    event.preventDefault();
    event.stopPropagation();
    root.classList.remove("ig-dragging");
    void takeFile(event.dataTransfer?.files?.[0]);
  };
  const onDragLeave = () => root.classList.remove("ig-dragging");
  root.addEventListener("dragover", onDragOver);
  root.addEventListener("drop", onDrop);
  root.addEventListener("dragleave", onDragLeave);
  fileInput.addEventListener("change", () => {
    void takeFile(fileInput.files?.[0]);
    fileInput.value = "";
  });

  const startGeneration = () => {
    if (model.get("status") === "running") return;
    set("prompt", prompt.value);
    // The inputs travel with the request: a state sync may still be held back by ipywidgets'
    // one-message-in-flight throttle, and custom messages are not queued behind it.
    model.send({
      type: "generate", prompt: prompt.value, model: model.get("model"),
      aspect_ratio: model.get("aspect_ratio"), image_size: model.get("image_size"),
    });
  };

  filter.addEventListener("input", drawModels);
  select.addEventListener("change", () => {
    const entry = model.get("models").find((m) => m.id === select.value);
    if (entry && model.get("image_size") && !entry.sizes.includes(model.get("image_size"))) {
      model.set("image_size", "");
    }
    set("model", select.value);
  });
  aspect.addEventListener("change", () => set("aspect_ratio", aspect.value));
  size.addEventListener("change", () => set("image_size", size.value));
  prompt.addEventListener("input", () => set("prompt", prompt.value));
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      startGeneration();
    }
  });
  generate.addEventListener("click", startGeneration);
  cancel.addEventListener("click", () => model.send({ type: "cancel" }));

  /** @type {number | undefined} */
  let ticker;
  let runningSince = 0;
  const drawElapsed = () => {
    const running = model.get("status") === "running";
    const local = running ? (performance.now() - runningSince) / 1000 : 0;
    const seconds = Math.max(local, model.get("elapsed"));
    // Once finished, the status text (the caption) carries the time itself.
    elapsed.textContent = running ? `${seconds.toFixed(1)} s` : "";
  };
  const drawStatus = () => {
    const state = model.get("status");
    const running = state === "running";
    root.dataset.status = state;
    generate.disabled = running;
    cancel.disabled = !running;
    spinner.hidden = !running;
    statusText.textContent = model.get("status_text");
    if (running && ticker === undefined) {
      runningSince = performance.now() - model.get("elapsed") * 1000;
      ticker = window.setInterval(drawElapsed, 100);
    } else if (!running && ticker !== undefined) {
      window.clearInterval(ticker);
      ticker = undefined;
    }
    drawElapsed();
  };
  const drawStream = () => {
    // Live text while generating (and after a failure); a finished result shows it in its caption.
    stream.textContent = model.get("stream_text");
    stream.hidden = !model.get("stream_text") || model.get("status") === "done";
  };
  const drawError = () => {
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
  };
  const drawPrompt = () => {
    if (prompt.value !== model.get("prompt")) prompt.value = model.get("prompt");
  };

  /**
   * Put an entry's prompt (and model, aspect ratio and size, when known) back in the inputs.
   * @param {HistoryEntry} entry
   */
  const reuse = (entry) => {
    model.set("prompt", entry.prompt);
    if (model.get("models").some((m) => m.id === entry.model)) model.set("model", entry.model);
    const target = currentEntry();
    // An entry may carry the request's aspect ratio and size (null/"" = the model chose).
    if (entry.aspect_ratio !== undefined) {
      const ratio = entry.aspect_ratio ?? "";
      if (!ratio || !target || target.aspect_ratios.includes(ratio)) model.set("aspect_ratio", ratio);
    }
    if (entry.image_size !== undefined) {
      const wanted = entry.image_size ?? "";
      if (!wanted || !target || target.sizes.includes(wanted)) model.set("image_size", wanted);
    }
    model.save_changes();
    drawPrompt();
    prompt.focus();
  };

  /**
   * A caption block: prompt (as text), then model/size/cost, then the model's own text.
   * @param {HistoryEntry} entry
   */
  const caption = (entry) => {
    const box = el("figcaption", "ig-caption");
    box.append(el("div", "ig-caption-prompt", entry.prompt), el("div", "ig-caption-meta", entry.caption));
    if (entry.text) box.append(el("div", "ig-caption-text", entry.text));
    return box;
  };

  // A new result changes `latest` and `history` together; draw it once, not once per trait.
  /** @type {[Picture[] | undefined, HistoryEntry | undefined]} */
  let drawn = [undefined, undefined];
  const drawLatest = () => {
    const pictures = model.get("latest");
    const entry = model.get("history")[0];
    if (drawn[0] === pictures && drawn[1] === entry) return;
    drawn = [pictures, entry];
    bags.latest.revoke();
    latest.replaceChildren();
    if (!pictures.length || !entry) return;
    const figure = el("figure", "ig-figure");
    const row = el("div", "ig-latest-images");
    const actions = el("div", "ig-actions");
    for (const picture of pictures) {
      const url = bags.latest.make(picture.data, picture.mime);
      const img = el("img", "ig-image");
      img.src = url;
      img.alt = `generated image ${picture.index + 1}`;
      img.dataset.width = String(picture.width);
      img.dataset.height = String(picture.height);
      // The zoom gets its own URL: this one is revoked when the next result arrives.
      img.addEventListener("click", () => zoomTo(entry, picture, picture.data));
      row.append(img);
      const download = el("a", "ig-button ig-download", pictures.length > 1 ? `Download ${picture.index + 1}` : "Download");
      download.href = url;
      download.download = fileName(entry.key, picture);
      actions.append(download);
    }
    const again = el("button", "ig-button ig-reuse", "Reuse this prompt");
    again.addEventListener("click", () => reuse(entry));
    actions.append(again);
    figure.append(row, caption(entry), actions);
    latest.append(figure);
  };

  const drawHistory = () => {
    bags.history.revoke();
    historyBox.replaceChildren();
    const entries = model.get("history");
    if (!entries.length) return;
    historyBox.append(el("div", "ig-history-title", `History (${entries.length})`));
    const grid = el("div", "ig-grid");
    for (const entry of entries) {
      const card = el("figure", "ig-card");
      card.dataset.key = entry.key;
      const thumbs = el("div", "ig-thumbs");
      for (const thumb of entry.thumbs) {
        const img = el("img", "ig-thumb");
        img.src = bags.history.make(thumb.data, thumb.mime);
        img.alt = `thumbnail ${thumb.index + 1}`;
        img.title = "Click to enlarge";
        img.addEventListener("click", () => enlarge(entry, thumb.index));
        thumbs.append(img);
      }
      const small = el("figcaption", "ig-card-caption");
      small.append(el("div", "ig-caption-prompt", entry.prompt), el("div", "ig-caption-meta", entry.caption));
      const again = el("button", "ig-link ig-reuse", "reuse prompt");
      again.addEventListener("click", () => reuse(entry));
      small.append(again);
      card.append(thumbs, small);
      grid.append(card);
    }
    historyBox.append(grid);
  };

  /** The history entry (and image) whose full-size image was asked of the kernel, if any. */
  /** @type {HistoryEntry | undefined} */
  let zoomEntry;
  let zoomIndex = -1;
  /**
   * Show a picture in the zoom view under an object URL that only the zoom owns.
   * @param {HistoryEntry} entry
   * @param {Omit<Picture, "data">} picture
   * @param {DataView} data
   */
  const zoomTo = (entry, picture, data) => {
    zoomEntry = undefined;
    bags.zoom.revoke();
    showZoom(entry, picture, bags.zoom.make(data, picture.mime));
  };
  /**
   * @param {HistoryEntry} entry
   * @param {number} index
   */
  const enlarge = (entry, index) => {
    const first = model.get("history")[0];
    const picture = model.get("latest").find((p) => p.index === index);
    if (first && first.key === entry.key && picture) {
      zoomTo(entry, picture, picture.data);
      return;
    }
    zoomEntry = entry;
    zoomIndex = index;
    model.send({ type: "full", key: entry.key, index });
  };
  /**
   * @param {HistoryEntry} entry
   * @param {Omit<Picture, "data">} picture
   * @param {string} url
   */
  const showZoom = (entry, picture, url) => {
    zoom.replaceChildren();
    const img = el("img", "ig-zoom-image");
    img.src = url;
    img.alt = "enlarged image";
    const bar = el("div", "ig-actions");
    const download = el("a", "ig-button ig-download", "Download");
    download.href = url;
    download.download = fileName(entry.key, /** @type {Picture} */ (picture));
    const again = el("button", "ig-button ig-reuse", "Reuse this prompt");
    again.addEventListener("click", () => { closeZoom(); reuse(entry); });
    const close = el("button", "ig-button ig-close", "Close");
    close.addEventListener("click", closeZoom);
    bar.append(download, again, close);
    zoom.append(img, caption(entry), bar);
    zoom.hidden = false;
  };
  const closeZoom = () => {
    zoomEntry = undefined;
    zoom.hidden = true;
    zoom.replaceChildren();
    bags.zoom.revoke();
  };
  zoom.addEventListener("keydown", (event) => { if (event.key === "Escape") closeZoom(); });
  zoom.addEventListener("click", (event) => { if (event.target === zoom) closeZoom(); });

  /**
   * Replies from the kernel: a full-size image of an older result, as one binary buffer.
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  const onMessage = (msg, buffers) => {
    if (msg?.type !== "full" || !zoomEntry || msg.key !== zoomEntry.key) return;
    if (typeof msg.index === "number" && msg.index !== zoomIndex) return;  // an older click's reply
    if (msg.missing || !buffers?.length) {
      zoomEntry = undefined;  // nothing is pending any more: a stray reply must not open the zoom
      error.textContent = "That image is no longer available in the kernel.";
      error.hidden = false;
      return;
    }
    zoomTo(zoomEntry, msg, buffers[0]);
  };

  on("change:models", drawModels);
  on("change:models_status", drawModels);
  on("change:model", drawModels);
  on("change:aspect_ratio", () => { aspect.value = model.get("aspect_ratio"); });
  on("change:image_size", () => { size.value = model.get("image_size"); });
  on("change:notice", drawNotice);
  on("change:input_image", drawInput);
  on("change:status", () => { drawStatus(); drawStream(); });
  on("change:status_text", drawStatus);
  on("change:elapsed", drawElapsed);
  on("change:stream_text", drawStream);
  on("change:error", drawError);
  on("change:prompt", drawPrompt);
  on("change:latest", drawLatest);
  on("change:history", () => { drawHistory(); drawLatest(); });
  on("msg:custom", onMessage);

  drawModels();
  drawPrompt();
  drawStatus();
  drawStream();
  drawError();
  drawLatest();
  drawHistory();

  return () => {
    for (const stop of undo) stop();
    if (ticker !== undefined) window.clearInterval(ticker);
    for (const bag of Object.values(bags)) bag.revoke();
    root.removeEventListener("dragover", onDragOver);
    root.removeEventListener("drop", onDrop);
    root.removeEventListener("dragleave", onDragLeave);
    root.remove();
  };
}

export default { render };
