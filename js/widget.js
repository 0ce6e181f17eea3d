// The ImageGenWidget front end: plain ESM with JSDoc types, no bundler (anywidget loads it as is).
//
// Rules this file keeps: model/prompt text only ever goes through textContent (never innerHTML);
// images arrive as binary buffers (DataView, always raster) and are shown through object URLs that
// are revoked when replaced and when the view goes away; the page never talks to the API, it only
// sets traits and sends {type: "generate" | "cancel" | "clear" | "full" | "download"} messages.
// A view restored from saved notebook state has no kernel behind it: it says so and shows the
// saved previews, with no controls that could not work.

/**
 * @typedef {{id: string, name: string, price: number | null, accepts_images: boolean,
 *   aspect_ratios: string[], sizes: string[], seed: boolean, max_n: number}} ModelEntry
 * @typedef {{data: DataView, mime: string, width: number, height: number, index: number,
 *   full_width?: number, full_height?: number}} Picture
 * @typedef {{key: string, prompt: string, model: string, caption: string, cost: number | null,
 *   text: string, thumbs: Picture[], aspect_ratio?: string | null,
 *   image_size?: string | null}} HistoryEntry
 * @typedef {import("@anywidget/types").AnyModel<any>} Model
 */

const MARKER = "data-ig-snapshot";

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

/** @param {number | null | undefined} price */
function priceLabel(price) {
  if (price === null || price === undefined) return "price not listed";
  if (price === 0) return "free";
  return `$${price < 0.01 ? price.toFixed(4) : price.toFixed(3)}/image`;
}

/** @param {DataView | null | undefined} data */
function hasBytes(data) {
  return Boolean(data && data.byteLength > 0);
}

/**
 * @param {HTMLSelectElement} select
 * @param {string[]} values
 * @param {string} value
 */
function fillSelect(select, values, value) {
  select.replaceChildren(...["", ...values].map((v) => {
    const option = el("option", "", v || "auto");
    option.value = v;
    return option;
  }));
  select.value = values.includes(value) ? value : "";
}

/**
 * Whether this view's model has a live comm (false when restored from saved notebook state).
 * @param {Model} model
 * @returns {Promise<any>} the underlying model when it can be told, else null
 */
async function underlying(model) {
  const manager = /** @type {any} */ (model).widget_manager;
  const id = model.get("anchor");
  if (!manager || !id || typeof manager.get_model !== "function") return null;
  try {
    return await manager.get_model(id);
  } catch {
    return null;
  }
}

/**
 * Rewrite this widget's snapshot output in the notebook model (JupyterLab, Notebook 7), where an
 * update_display_data from a click in the page would not reach it. Returns how many it replaced.
 * @param {Model} model
 * @param {Record<string, string>} data
 */
function writeSnapshot(model, data) {
  const cells = /** @type {any} */ (model).widget_manager?.context?.model?.cells;
  const id = model.get("anchor");
  if (!cells || !id) return 0;
  let replaced = 0;
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    if (!outputs) continue;
    for (let j = 0; j < outputs.length; j++) {
      const raw = outputs.get(j).data?.["text/html"];
      const html = Array.isArray(raw) ? raw.join("") : raw;
      if (typeof html === "string" && html.includes(`${MARKER}="${id}"`)) {
        outputs.set(j, { output_type: "display_data", data, metadata: {} });
        replaced++;
      }
    }
  }
  return replaced;
}

/** @param {{model: Model, el: HTMLElement}} context */
function render({ model, el: host }) {
  const bags = { latest: new UrlBag(), history: new UrlBag(), input: new UrlBag(), zoom: new UrlBag() };
  /** @type {Array<() => void>} */
  const undo = [];
  /**
   * @param {string} name
   * @param {(...args: any[]) => void} fn
   */
  const on = (name, fn) => {
    model.on(name, fn);
    undo.push(() => model.off(name, fn));
  };
  /**
   * @param {string} name
   * @param {any} value
   */
  const set = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  let live = true;

  const root = el("div", "ig-root");
  root.dataset.live = "unknown";
  // Keys typed here (Ctrl+Enter, arrows, a, b, d d ...) belong to the widget, not to notebook shortcuts.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const offline = el("div", "ig-offline",
    "This widget was saved with the notebook and is not connected to a running kernel: "
    + "re-run its cell to generate images again. The saved previews are shown below.");
  offline.setAttribute("role", "status");
  offline.hidden = true;

  // -- model picker: type to filter, arrows to move, Enter picks ------------------------------
  const picker = el("div", "ig-row ig-picker");
  const search = el("input", "ig-model-search");
  search.type = "text";
  search.placeholder = "Search models…";
  search.setAttribute("role", "combobox");
  search.setAttribute("aria-label", "Model");
  search.setAttribute("aria-autocomplete", "list");
  search.setAttribute("aria-expanded", "false");
  const count = el("span", "ig-match-count");
  const price = el("span", "ig-price");
  const list = el("ul", "ig-model-list");
  list.setAttribute("role", "listbox");
  list.hidden = true;
  const pickBox = el("div", "ig-pick-box");
  pickBox.append(search, list);
  picker.append(el("label", "ig-label", "Model"), pickBox, count, price);
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
  const drop = el("div", "ig-drop");
  drop.setAttribute("aria-label", "Input image");
  const fileInput = el("input", "ig-file");
  fileInput.type = "file";
  fileInput.accept = "image/png,image/jpeg,image/webp,image/gif";
  fileInput.hidden = true;
  const generate = el("button", "ig-button ig-generate", "Generate");
  generate.title = "Generate (Ctrl/Cmd+Enter)";
  const cancel = el("button", "ig-button ig-cancel", "Cancel");
  const go = el("div", "ig-go");
  go.append(generate, cancel);
  controls.append(el("label", "ig-label", "Aspect"), aspect, el("label", "ig-label", "Size"), size,
    countBox, seedBox, drop, fileInput, go);
  const hint = el("div", "ig-hint-line");
  hint.setAttribute("aria-live", "polite");

  // -- status, error, results --------------------------------------------------------------------
  const status = el("div", "ig-status");
  status.setAttribute("aria-live", "polite");
  const spinner = el("span", "ig-spinner");
  const statusText = el("span", "ig-status-text");
  const elapsed = el("span", "ig-elapsed");
  status.append(spinner, statusText, elapsed);
  const stream = el("div", "ig-stream");
  const error = el("div", "ig-error");
  error.setAttribute("role", "alert");
  const latest = el("div", "ig-latest");
  const historyBox = el("div", "ig-history");
  const inputs = el("div", "ig-inputs");
  inputs.append(picker, notice, prompt, controls, hint, status, stream);

  root.append(offline, inputs, error, latest, historyBox);
  host.append(root);

  // -- models ---------------------------------------------------------------------------------
  /** @returns {ModelEntry[]} */
  const models = () => model.get("models") ?? [];
  /** @returns {ModelEntry | undefined} */
  const currentEntry = () => models().find((m) => m.id === model.get("model"));
  let highlighted = 0;
  let typed = false;
  /** @type {ModelEntry[]} */
  let matches = [];
  const open = () => !list.hidden;

  const drawPickerValue = () => {
    if (document.activeElement !== search) search.value = model.get("model");
    const entry = currentEntry();
    price.textContent = entry && !open() ? priceLabel(entry.price) : "";
    price.hidden = !price.textContent;
  };
  const drawList = () => {
    // Until something is typed, the box shows the current model and the list shows them all.
    const words = typed ? search.value.trim().toLowerCase().split(/\s+/).filter(Boolean) : [];
    matches = models().filter((m) => words.every((w) => m.id.toLowerCase().includes(w)
      || m.name.toLowerCase().includes(w)));
    highlighted = Math.min(highlighted, Math.max(0, matches.length - 1));
    list.replaceChildren(...matches.map((m, i) => {
      const item = el("li", "ig-model-option");
      item.setAttribute("role", "option");
      item.dataset.id = m.id;
      item.setAttribute("aria-selected", String(i === highlighted));
      item.append(el("span", "ig-option-name", m.name), el("span", "ig-option-id", m.id),
        el("span", "ig-option-price", priceLabel(m.price)));
      item.addEventListener("mousedown", (event) => { event.preventDefault(); pick(m.id); });
      return item;
    }));
    if (!matches.length) list.append(el("li", "ig-model-empty", "No model matches."));
    const total = models().length;
    count.textContent = model.get("models_status") === "loading" ? "loading models…"
      : words.length ? `${matches.length} of ${total} models` : `${total} models`;
    list.querySelector("[aria-selected='true']")?.scrollIntoView({ block: "nearest" });
  };
  const openList = () => {
    list.hidden = false;
    search.setAttribute("aria-expanded", "true");
    drawList();
    drawPickerValue();
  };
  const closeList = () => {
    list.hidden = true;
    search.setAttribute("aria-expanded", "false");
    search.value = model.get("model");
    const total = models().length;
    count.textContent = model.get("models_status") === "loading" ? "loading models…" : `${total} models`;
    drawPickerValue();
  };
  /** @param {string} id */
  const pick = (id) => {
    const entry = models().find((m) => m.id === id);
    if (entry && model.get("image_size") && !entry.sizes.includes(model.get("image_size"))) model.set("image_size", "");
    if (entry && model.get("aspect_ratio") && !entry.aspect_ratios.includes(model.get("aspect_ratio"))) model.set("aspect_ratio", "");
    set("model", id);
    search.blur();
    closeList();
    drawModel();
  };
  search.addEventListener("focus", () => { search.select(); highlighted = 0; typed = false; openList(); });
  search.addEventListener("input", () => { highlighted = 0; typed = true; openList(); });
  search.addEventListener("blur", () => closeList());
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open()) openList();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlighted = Math.max(0, Math.min(matches.length - 1, highlighted + step));
      drawList();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (matches[highlighted]) pick(matches[highlighted].id);
    } else if (event.key === "Escape") {
      event.preventDefault();
      search.blur();
    }
    event.stopPropagation();
  });

  const drawModel = () => {
    const entry = currentEntry();
    fillSelect(aspect, entry?.aspect_ratios ?? [], model.get("aspect_ratio"));
    fillSelect(size, entry?.sizes ?? [], model.get("image_size"));
    const maxN = entry?.max_n ?? 1;
    countBox.hidden = maxN <= 1;
    nInput.max = String(maxN);
    nInput.value = String(Math.min(model.get("n") ?? 1, maxN));
    seedBox.hidden = !entry?.seed;
    const seed = model.get("seed");
    if (document.activeElement !== seedInput) seedInput.value = seed === null || seed === undefined ? "" : String(seed);
    drawPickerValue();
    if (open()) drawList();
    else closeList();
    drawNotice();
    drawInput();
    drawGo();
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
    if (hasBytes(data)) {
      const thumb = el("img", "ig-input-thumb");
      thumb.alt = "input image";
      thumb.src = bags.input.make(/** @type {DataView} */ (data), model.get("input_mime") || "image/png");
      const name = el("span", "ig-input-name", model.get("input_name") || "input image");
      const clear = el("button", "ig-link ig-input-clear", "×");
      clear.title = "Remove the input image";
      clear.setAttribute("aria-label", "Remove the input image");
      clear.addEventListener("click", () => {
        model.set("input_image", new DataView(new ArrayBuffer(0)));
        model.set("input_mime", "");
        set("input_name", "");
      });
      drop.append(thumb, name, clear);
    } else {
      const choose = el("button", "ig-link", "add an image");
      choose.addEventListener("click", () => fileInput.click());
      drop.append(el("span", "ig-hint", "Edit: drop an image or "), choose);
    }
  };

  /** Why Generate cannot be pressed now ("" when it can). */
  const blocked = () => {
    const entry = currentEntry();
    if (!prompt.value.trim()) return "Type a prompt to generate an image.";
    if (!model.get("model")) return "Choose a model first.";
    if (hasBytes(model.get("input_image")) && entry && !entry.accepts_images) {
      return `${entry.name} cannot take an input image: remove the image or pick a model that can.`;
    }
    return "";
  };
  const drawGo = () => {
    const running = model.get("status") === "running";
    const reason = running ? "" : blocked();
    generate.disabled = running || Boolean(reason);
    cancel.disabled = !running;
    hint.textContent = reason;
    hint.hidden = !reason;
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
    if (live) root.classList.add("ig-dragging");
  };
  /** @param {DragEvent} event */
  const onDrop = (event) => {
    event.preventDefault();
    event.stopPropagation();
    root.classList.remove("ig-dragging");
    if (live) void takeFile(event.dataTransfer?.files?.[0]);
  };
  const onDragLeave = () => root.classList.remove("ig-dragging");
  root.addEventListener("dragover", onDragOver);
  root.addEventListener("drop", onDrop);
  root.addEventListener("dragleave", onDragLeave);
  fileInput.addEventListener("change", () => {
    void takeFile(fileInput.files?.[0]);
    fileInput.value = "";
  });

  const readN = () => {
    const max = currentEntry()?.max_n ?? 1;
    const n = Math.round(Number(nInput.value));
    return Number.isFinite(n) ? Math.max(1, Math.min(max, n)) : 1;
  };
  const readSeed = () => {
    if (seedInput.value.trim() === "" || seedBox.hidden) return null;
    const seed = Math.round(Number(seedInput.value));
    return Number.isFinite(seed) ? seed : null;
  };
  const startGeneration = () => {
    if (!live || model.get("status") === "running" || blocked()) return;
    set("prompt", prompt.value);
    // The inputs travel with the request: a state sync may still be held back by ipywidgets'
    // one-message-in-flight throttle, and custom messages are not queued behind it.
    model.send({
      type: "generate", prompt: prompt.value, model: model.get("model"),
      aspect_ratio: model.get("aspect_ratio"), image_size: model.get("image_size"),
      n: readN(), seed: readSeed(),
    });
  };

  aspect.addEventListener("change", () => set("aspect_ratio", aspect.value));
  size.addEventListener("change", () => set("image_size", size.value));
  nInput.addEventListener("change", () => { nInput.value = String(readN()); set("n", readN()); });
  seedInput.addEventListener("change", () => set("seed", readSeed()));
  prompt.addEventListener("input", () => { set("prompt", prompt.value); drawGo(); });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      startGeneration();
    }
  });
  generate.addEventListener("click", startGeneration);
  cancel.addEventListener("click", () => model.send({ type: "cancel" }));

  // -- status -----------------------------------------------------------------------------------
  /** @type {number | undefined} */
  let ticker;
  let runningSince = 0;
  const drawElapsed = () => {
    const running = model.get("status") === "running";
    const local = running ? (performance.now() - runningSince) / 1000 : 0;
    // Once finished, the status text (the caption) carries the time itself.
    elapsed.textContent = running ? `${Math.max(local, model.get("elapsed")).toFixed(1)} s` : "";
  };
  const drawStatus = () => {
    const state = model.get("status");
    const running = state === "running";
    root.dataset.status = state;
    spinner.hidden = !running;
    statusText.textContent = model.get("status_text");
    status.hidden = !running && !model.get("status_text");  // no empty gap before the first run
    if (running && ticker === undefined) {
      runningSince = performance.now() - model.get("elapsed") * 1000;
      ticker = window.setInterval(drawElapsed, 100);
    } else if (!running && ticker !== undefined) {
      window.clearInterval(ticker);
      ticker = undefined;
    }
    drawElapsed();
    drawGo();
  };
  const drawStream = () => {
    stream.textContent = model.get("stream_text");
    stream.hidden = !model.get("stream_text") || model.get("status") === "done";
  };
  const drawError = () => {
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
  };
  const drawPrompt = () => {
    if (prompt.value !== model.get("prompt")) prompt.value = model.get("prompt");
    drawGo();
  };

  /**
   * Put an entry's prompt (and model, aspect ratio and size, when known) back in the inputs.
   * @param {HistoryEntry} entry
   */
  const reuse = (entry) => {
    model.set("prompt", entry.prompt);
    if (models().some((m) => m.id === entry.model)) model.set("model", entry.model);
    const target = currentEntry();
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
    drawModel();
    prompt.focus();
  };

  /** @param {HistoryEntry} entry */
  const caption = (entry) => {
    const box = el("figcaption", "ig-caption");
    box.append(el("div", "ig-caption-prompt", entry.prompt), el("div", "ig-caption-meta", entry.caption));
    if (entry.text) box.append(el("div", "ig-caption-text", entry.text));
    return box;
  };

  // -- downloads: the kernel prepares the file (PNG metadata as result.save() writes it) ------
  /**
   * @param {string} key
   * @param {number} index
   */
  const askDownload = (key, index) => {
    if (live) model.send({ type: "download", key, index });
  };
  /**
   * @param {any} msg
   * @param {DataView} data
   */
  const saveFile = (msg, data) => {
    const bag = new UrlBag();
    const link = el("a");
    link.href = bag.make(data, msg.mime);
    link.download = String(msg.name);
    link.hidden = true;
    root.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => bag.revoke(), 30_000);
  };

  // A new result changes `latest` and `history` together; draw it once, not once per trait.
  /** @type {[Picture[] | undefined, HistoryEntry | undefined]} */
  let drawn = [undefined, undefined];
  const drawLatest = () => {
    const pictures = model.get("latest") ?? [];
    const entry = (model.get("history") ?? [])[0];
    if (drawn[0] === pictures && drawn[1] === entry) return;
    drawn = [pictures, entry];
    bags.latest.revoke();
    latest.replaceChildren();
    if (!pictures.length || !entry) return;
    const figure = el("figure", "ig-figure");
    const row = el("div", "ig-latest-images");
    const actions = el("div", "ig-actions");
    for (const picture of pictures) {
      const img = el("img", "ig-image");
      img.src = bags.latest.make(picture.data, picture.mime);
      img.alt = `generated image ${picture.index + 1}`;
      img.width = picture.width;
      img.height = picture.height;
      img.dataset.width = String(picture.full_width ?? picture.width);
      img.dataset.height = String(picture.full_height ?? picture.height);
      img.addEventListener("click", () => openZoom(entry.key, picture.index, img));
      row.append(img);
      const save = el("button", "ig-button ig-download", pictures.length > 1 ? `Download ${picture.index + 1}` : "Download");
      save.addEventListener("click", () => askDownload(entry.key, picture.index));
      actions.append(save);
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
    const entries = model.get("history") ?? [];
    if (!entries.length) return;
    const title = el("div", "ig-history-title");
    const clear = el("button", "ig-link ig-clear", "Clear history");
    clear.addEventListener("click", () => { closeZoom(); model.send({ type: "clear" }); });
    title.append(el("span", "", `History (${entries.length})`), clear);
    historyBox.append(title);
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
        img.addEventListener("click", () => openZoom(entry.key, thumb.index, img));
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

  // -- zoom: fixed to the viewport (on <body>, out of any cell's containment) --------------------
  const zoom = el("div", "ig-zoom");
  zoom.hidden = true;
  zoom.tabIndex = -1;
  zoom.setAttribute("role", "dialog");
  zoom.setAttribute("aria-modal", "true");
  zoom.setAttribute("aria-label", "Enlarged image");
  zoom.setAttribute("data-lm-suppress-shortcuts", "true");
  document.body.append(zoom);
  /** @type {{key: string, index: number} | null} */
  let zoomed = null;
  /** @type {HTMLElement | null} */
  let returnFocus = null;
  /** Every image of the history, newest first: what the arrow keys step through. */
  const sequence = () => (model.get("history") ?? []).flatMap(
    (/** @type {HistoryEntry} */ e) => e.thumbs.map((t) => ({ entry: e, thumb: t })));

  /**
   * @param {string} key
   * @param {number} index
   * @param {HTMLElement | null} [from]
   */
  const openZoom = (key, index, from = null) => {
    const items = sequence();
    const at = items.findIndex((i) => i.entry.key === key && i.thumb.index === index);
    if (at < 0) return;
    if (from) returnFocus = from;
    const { entry, thumb } = items[at];
    zoomed = { key, index };
    bags.zoom.revoke();
    zoom.replaceChildren();
    const panel = el("div", "ig-zoom-panel");
    const img = el("img", "ig-zoom-image");
    // The thumbnail at once, the full image when the kernel sends it.
    img.src = bags.zoom.make(thumb.data, thumb.mime);
    img.alt = `enlarged image: ${entry.prompt}`;
    const bar = el("div", "ig-actions");
    const prev = el("button", "ig-button ig-prev", "‹ Newer");
    prev.disabled = at === 0;
    prev.addEventListener("click", () => step(-1));
    const next = el("button", "ig-button ig-next", "Older ›");
    next.disabled = at === items.length - 1;
    next.addEventListener("click", () => step(1));
    const position = el("span", "ig-zoom-position", `${at + 1} / ${items.length}`);
    const save = el("button", "ig-button ig-download", "Download");
    save.addEventListener("click", () => askDownload(key, index));
    save.disabled = !live;
    const again = el("button", "ig-button ig-reuse", "Reuse this prompt");
    again.addEventListener("click", () => { closeZoom(); reuse(entry); });
    again.disabled = !live;
    const close = el("button", "ig-button ig-close", "Close");
    close.addEventListener("click", closeZoom);
    bar.append(prev, position, next, save, again, close);
    panel.append(img, caption(entry), bar);
    zoom.append(panel);
    zoom.hidden = false;
    zoom.focus();
    if (live) model.send({ type: "full", key, index });
  };
  /** @param {number} by */
  const step = (by) => {
    if (!zoomed) return;
    const items = sequence();
    const at = items.findIndex((i) => i.entry.key === zoomed?.key && i.thumb.index === zoomed?.index);
    const target = items[at + by];
    if (target) openZoom(target.entry.key, target.thumb.index);
  };
  const closeZoom = () => {
    if (zoom.hidden) return;
    zoomed = null;
    zoom.hidden = true;
    zoom.replaceChildren();
    bags.zoom.revoke();
    if (returnFocus?.isConnected) returnFocus.focus({ preventScroll: true });
    returnFocus = null;
  };
  zoom.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeZoom();
    else if (event.key === "ArrowRight" || event.key === "ArrowDown") step(1);
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") step(-1);
    else return;
    event.preventDefault();
    event.stopPropagation();
  });
  zoom.addEventListener("mousedown", (event) => { if (event.target === zoom) closeZoom(); });

  /**
   * Replies from the kernel: full-size images, download files, snapshots.
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  const onMessage = (msg, buffers) => {
    if (msg?.type === "snapshot") {
      writeSnapshot(model, msg.data);
      return;
    }
    if (msg?.missing) {
      if (msg.type === "download" || (zoomed && zoomed.key === msg.key && zoomed.index === msg.index)) {
        error.textContent = "That image is no longer available in the kernel.";
        error.hidden = false;
      }
      return;
    }
    if (!buffers?.length) return;
    if (msg?.type === "download") {
      saveFile(msg, buffers[0]);
    } else if (msg?.type === "full" && zoomed && zoomed.key === msg.key && zoomed.index === msg.index) {
      const img = zoom.querySelector("img.ig-zoom-image");
      if (img instanceof HTMLImageElement) {
        img.src = bags.zoom.make(buffers[0], msg.mime);
        img.dataset.full = "true";
      }
    }
  };

  /** @param {boolean} isLive */
  const setLive = (isLive) => {
    live = isLive;
    root.dataset.live = String(isLive);
    offline.hidden = isLive;
    inputs.hidden = !isLive;
    for (const button of root.querySelectorAll(".ig-actions, .ig-reuse, .ig-clear")) {
      /** @type {HTMLElement} */ (button).hidden = !isLive;
    }
    if (!isLive) error.hidden = true;
  };

  on("change:models", drawModel);
  on("change:models_status", drawModel);
  on("change:model", drawModel);
  on("change:aspect_ratio", () => { aspect.value = model.get("aspect_ratio"); });
  on("change:image_size", () => { size.value = model.get("image_size"); });
  on("change:n", drawModel);
  on("change:seed", drawModel);
  on("change:notice", drawNotice);
  on("change:input_image", () => { drawInput(); drawGo(); });
  on("change:status", () => { drawStatus(); drawStream(); });
  on("change:status_text", drawStatus);
  on("change:elapsed", drawElapsed);
  on("change:stream_text", drawStream);
  on("change:error", drawError);
  on("change:prompt", drawPrompt);
  on("change:latest", () => { drawLatest(); setLive(live); });
  on("change:history", () => { drawHistory(); drawLatest(); setLive(live); });
  on("msg:custom", onMessage);

  drawModel();
  drawPrompt();
  drawStatus();
  drawStream();
  drawError();
  drawLatest();
  drawHistory();

  // A model restored from saved state has no comm: say so instead of offering dead buttons.
  /** @type {any} */
  let real = null;
  const onLiveChange = () => setLive(Boolean(real?.comm_live));
  void underlying(model).then((found) => {
    if (!root.isConnected && !host.isConnected) return;
    real = found;
    if (real && "comm_live" in real) {
      onLiveChange();
      real.on?.("comm_live_update", onLiveChange);
    } else {
      setLive(true);
    }
  });

  return () => {
    for (const stop of undo) stop();
    real?.off?.("comm_live_update", onLiveChange);
    if (ticker !== undefined) window.clearInterval(ticker);
    for (const bag of Object.values(bags)) bag.revoke();
    root.removeEventListener("dragover", onDragOver);
    root.removeEventListener("drop", onDrop);
    root.removeEventListener("dragleave", onDragLeave);
    zoom.remove();
    root.remove();
  };
}

export default { render };
