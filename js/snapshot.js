// Saved notebooks: a view restored from saved state has no kernel behind it, so it says so and
// shows the saved previews with no controls that could not work; and the static snapshot output
// the kernel keeps next to the widget is rewritten in the notebook model when the kernel asks.

import { el } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").Model} Model */
/**
 * The widget manager's own model of this widget: it has a comm when a kernel is behind it.
 * @typedef {Model & {comm_live?: boolean}} KernelModel
 */
/**
 * The little of JupyterLab's (and Notebook 7's) notebook model that writeSnapshot touches.
 * @typedef {{length: number, get(i: number): {data?: Record<string, unknown>},
 *   set(i: number, output: object): void}} OutputList
 * @typedef {{length: number, get(i: number): {outputs?: OutputList}}} CellList
 * @typedef {Model["widget_manager"] & {context?: {model?: {cells?: CellList}}}} LabManager
 */

/** The attribute, holding the widget's anchor, that marks its snapshot output. */
const MARKER = "data-ig-snapshot";

/**
 * Whether this view's model has a live comm (false when restored from saved notebook state).
 * @param {Model} model
 * @returns {Promise<KernelModel | null>} the underlying model when it can be told, else null
 */
async function underlying(model) {
  const manager = model.widget_manager;
  const id = model.get("anchor");
  if (!manager || !id || typeof manager.get_model !== "function") return null;
  try {
    return /** @type {KernelModel} */ (await manager.get_model(id));
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
export function writeSnapshot(model, data) {
  const cells = /** @type {LabManager | undefined} */ (model.widget_manager)?.context?.model?.cells;
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

const SAVED_TEXT = "This widget was saved with the notebook and is not connected to a running kernel: "
  + "re-run its cell to generate images again. The saved previews are shown below.";
const STATIC_TEXT = "This is a static export of the notebook: the widget shows the images it had "
  + "and cannot generate. Open the notebook in marimo to use it.";

/** True on a page exported as static HTML (marimo's `export html`), where no kernel can answer. */
export function staticPage() {
  return "__MARIMO_STATIC__" in globalThis;
}

/** The banner a view restored from saved state shows (hidden while live). */
export function offlineBanner() {
  const offline = el("div", "ig-offline", staticPage() ? STATIC_TEXT : SAVED_TEXT);
  offline.setAttribute("role", "status");
  offline.hidden = true;
  return offline;
}

/**
 * Show the view as live (inputs and buttons) or as saved (the banner and the previews only).
 * @param {View} view
 * @param {{offline: HTMLElement, inputs: HTMLElement, error: HTMLElement}} parts
 * @param {boolean} isLive
 */
export function showLive(view, parts, isLive) {
  view.live = isLive;
  view.root.dataset.live = String(isLive);
  parts.offline.hidden = isLive;
  parts.inputs.hidden = !isLive;
  for (const button of view.root.querySelectorAll(".ig-actions, .ig-reuse, .ig-clear, .ig-star")) {
    /** @type {HTMLElement} */ (button).hidden = !isLive;
  }
  if (!isLive) parts.error.hidden = true;
}

/**
 * Find out whether a kernel is behind this view, and follow it; returns the cleanup.
 * A model restored from saved state has no comm: say so instead of offering dead buttons.
 * @param {View} view
 * @param {HTMLElement} host
 * @param {(isLive: boolean) => void} setLive
 * @returns {() => void}
 */
export function watchLive(view, host, setLive) {
  /** @type {KernelModel | null} */
  let real = null;
  if (staticPage()) {  // the state is in the page, but nothing behind it would answer
    setLive(false);
    return () => {};
  }
  const onLiveChange = () => setLive(Boolean(real?.comm_live));
  void underlying(view.model).then((found) => {
    if (!view.root.isConnected && !host.isConnected) return;
    real = found;
    if (real && "comm_live" in real) {
      onLiveChange();
      real.on?.("comm_live_update", onLiveChange);
    } else {
      setLive(true);
    }
  });
  return () => real?.off?.("comm_live_update", onLiveChange);
}
