// Shared by the widget's modules: the types of the synced traits, el() (text only ever goes
// through textContent, never innerHTML), object URLs owned in bags, and small helpers.
//
// The modules are concatenated into one ES module for anywidget (see the Python side's
// assembler), so every module-level name must be unique across js/*.js.

/**
 * An image model and the controls it takes (one entry of the `models` trait).
 * `price_label` is the kernel's label (offline: "... (simulated price line)"); `simulated` is true
 * when the price is the offline server's, which nobody is charged.
 * `priced` is false while the kernel has not read the model's endpoints record (the picker asks
 * for the page it shows; the answers arrive in the `prices` trait, over these fields).
 * @typedef {{id: string, name: string, price: number | null, accepts_images: boolean,
 *   aspect_ratios: string[], sizes: string[], seed: boolean, max_n: number,
 *   price_basis?: string, price_label?: string, simulated?: boolean, priced?: boolean}} ModelEntry
 * A raster preview (always raster: SVG never reaches the page).
 * @typedef {{data: DataView, mime: string, width: number, height: number, index: number,
 *   full_width?: number, full_height?: number}} Picture
 * @typedef {{key: string, prompt: string, model: string, caption: string, cost: number | null,
 *   simulated?: boolean, text: string, thumbs: Picture[], aspect_ratio?: string | null,
 *   image_size?: string | null}} HistoryEntry
 * A cell of the grid: null while its request runs, an entry, or why it has no image.
 * @typedef {HistoryEntry | {error: string} | null} GridCell
 * The newest prompt matrix or variations strip; cells row-major ({} when there is none).
 * @typedef {{kind: string, title: string, note: string, rows: string[], columns: string[],
 *   cells: GridCell[], done: number, total: number}} GridState
 * The synced traits of ImageGenWidget.
 * @typedef {{model: string, prompt: string, aspect_ratio: string, image_size: string, n: number,
 *   seed: number | null, input_image: DataView, input_mime: string, input_name: string,
 *   anchor: string, models: ModelEntry[], models_status: string,
 *   prices: Record<string, Partial<ModelEntry>>, notice: string, status: string,
 *   status_text: string, stream_text: string, elapsed: number, error: string, key_left: string,
 *   latest: Picture[], history: HistoryEntry[], grid: GridState, picked: string[]}} Traits
 * @typedef {import("@anywidget/types").AnyModel<Traits>} Model
 */

/**
 * What the parts of one view share.
 * @typedef {object} View
 * @property {Model} model
 * @property {HTMLDivElement} root the view's .ig-root
 * @property {boolean} live false while no kernel is behind the view (restored from saved state)
 * @property {<K extends keyof Traits>(name: K, value: Traits[K]) => void} set set a trait and sync it
 */

/**
 * @param {Model} model
 * @param {HTMLDivElement} root
 * @returns {View}
 */
export function makeView(model, root) {
  return {
    model,
    root,
    live: true,
    set(name, value) {
      model.set(name, value);
      model.save_changes();
    },
  };
}

/**
 * Redraw on trait changes until the returned function is called (every on() gets its off()).
 * @param {Model} model
 * @param {Partial<Record<keyof Traits, () => void>>} handlers trait name → what to call
 * @returns {() => void}
 */
export function onChanges(model, handlers) {
  /** @type {Array<[string, () => void]>} */
  const pairs = [];
  for (const [name, fn] of Object.entries(handlers)) if (fn) pairs.push([`change:${name}`, fn]);
  for (const [name, fn] of pairs) model.on(name, fn);
  return () => {
    for (const [name, fn] of pairs) model.off(name, fn);
  };
}

/**
 * Create an element with a class and optional text (always textContent).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** Object URLs owned by one part of the view, revoked together when that part is redrawn. */
export class UrlBag {
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

/**
 * A model's price as the kernel labels it (amount and basis, "simulated" offline); a state saved
 * by an older kernel has no label: the amount alone, still marked when it is simulated.
 * @param {Pick<ModelEntry, "price" | "price_label" | "simulated">} entry
 */
export function priceLabel(entry) {
  if (entry.price_label) return entry.price_label;
  const { price } = entry;
  const amount = price === null || price === undefined ? "price not listed"
    : price === 0 ? "free" : `$${price < 0.01 ? price.toFixed(4) : price.toFixed(3)}/image`;
  return entry.simulated ? `${amount} (simulated)` : amount;
}

/** @param {DataView | null | undefined} data */
export function hasBytes(data) {
  return Boolean(data && data.byteLength > 0);
}

/**
 * @param {HTMLSelectElement} select
 * @param {string[]} values
 * @param {string} value
 */
export function fillSelect(select, values, value) {
  select.replaceChildren(...["", ...values].map((v) => {
    const option = el("option", "", v || "auto");
    option.value = v;
    return option;
  }));
  select.value = values.includes(value) ? value : "";
}

/**
 * @param {Model} model
 * @returns {ModelEntry[]}
 */
export function modelList(model) {
  return model.get("models") ?? [];
}

/**
 * @param {Model} model
 * @returns {ModelEntry | undefined}
 */
export function currentModel(model) {
  return modelList(model).find((m) => m.id === model.get("model"));
}

/**
 * The caption under a result: its prompt, the meta line and any text the model returned.
 * @param {HistoryEntry} entry
 */
export function caption(entry) {
  const box = el("figcaption", "ig-caption");
  box.append(el("div", "ig-caption-prompt", entry.prompt), el("div", "ig-caption-meta", entry.caption));
  if (entry.text) box.append(el("div", "ig-caption-text", entry.text));
  return box;
}
