// The enlarged image: an overlay fixed to the viewport (on <body>, out of any cell's containment;
// in the widget's shadow root where the page gives it one, as marimo does, since the widget's
// styles live there) that shows the thumbnail at once and the full image when the kernel sends
// it; the arrow keys step through every image of the history, newest first.

import { UrlBag, caption, el, modelList } from "./dom.js";
import { drawStars, starButton } from "./grid.js";
import { regionEditor } from "./region.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").Model} Model */
/** @typedef {import("./dom.js").Picture} Picture */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/**
 * @typedef {{askDownload: (key: string, index: number) => void,
 *   reuse: (entry: HistoryEntry) => void}} ZoomActions
 * @typedef {{prev: HTMLButtonElement, next: HTMLButtonElement, save: HTMLButtonElement,
 *   again: HTMLButtonElement, more: HTMLButtonElement, region: HTMLButtonElement,
 *   close: HTMLButtonElement}} ZoomButtons
 */

/**
 * Where the overlay goes: the shadow root the widget renders in (its CSS is only there), or <body>.
 * @param {HTMLElement} root
 * @returns {ShadowRoot | HTMLElement}
 */
function overlayParent(root) {
  const top = root.getRootNode();
  return top instanceof ShadowRoot ? top : document.body;
}

function zoomOverlay() {
  const zoom = el("div", "ig-zoom");
  zoom.hidden = true;
  zoom.tabIndex = -1;
  zoom.setAttribute("role", "dialog");
  zoom.setAttribute("aria-modal", "true");
  zoom.setAttribute("aria-label", "Enlarged image");
  zoom.setAttribute("data-lm-suppress-shortcuts", "true");
  return zoom;
}

/**
 * Every image of the grid, then of the history, newest first: what the arrow keys step through.
 * @param {Model} model
 * @returns {Array<{entry: HistoryEntry, thumb: Picture}>}
 */
function zoomSequence(model) {
  const cells = (model.get("grid")?.cells ?? []).filter((c) => c && "key" in c);
  const seen = new Set();
  const entries = [.../** @type {HistoryEntry[]} */ (cells), ...(model.get("history") ?? [])]
    .filter((e) => !seen.has(e.key) && seen.add(e.key));
  return entries.flatMap((e) => e.thumbs.map((t) => ({ entry: e, thumb: t })));
}

/**
 * What the model that made `entry` takes, from the listing (unknown: allowed, the kernel decides).
 * @param {Model} model
 * @param {HistoryEntry} entry
 */
function takes(model, entry) {
  const found = modelList(model).find((m) => m.id === entry.model);
  return { seed: found ? found.seed : true, images: found ? found.accepts_images : true };
}

/**
 * The panel for one image: the image, its caption and the buttons (wired by the caller).
 * @param {View} view
 * @param {HistoryEntry} entry
 * @param {string} src
 * @param {number} at
 * @param {number} total
 * @returns {[HTMLDivElement, ZoomButtons]}
 */
function zoomPanel(view, entry, src, at, total) {
  const live = view.live;
  const can = takes(view.model, entry);
  const panel = el("div", "ig-zoom-panel");
  const img = el("img", "ig-zoom-image");
  img.src = src;
  img.alt = `enlarged image: ${entry.prompt}`;
  const bar = el("div", "ig-actions");
  const prev = el("button", "ig-button ig-prev", "‹ Newer");
  prev.disabled = at === 0;
  const next = el("button", "ig-button ig-next", "Older ›");
  next.disabled = at === total - 1;
  const position = el("span", "ig-zoom-position", `${at + 1} / ${total}`);
  const save = el("button", "ig-button ig-download", "Download");
  save.disabled = !live;
  const again = el("button", "ig-button ig-reuse", "Reuse this prompt");
  again.disabled = !live;
  const more = el("button", "ig-button ig-more", "4 more like this");
  more.disabled = !live || !can.seed;
  more.title = can.seed ? "The same request with 4 new seeds, as a strip" : "This model takes no seed";
  const region = el("button", "ig-button ig-region", "Edit a region");
  region.disabled = !live || !can.images;
  region.title = can.images ? "Drag a box or paint, describe the change: the rest stays as it is"
    : "This model takes no input image";
  const close = el("button", "ig-button ig-close", "Close");
  bar.append(prev, position, next, starButton(view, entry.key), save, again, more, region, close);
  panel.append(img, caption(entry), bar);
  return [panel, { prev, next, save, again, more, region, close }];
}

/**
 * Escape (or a click beside the panel) closes; the arrow keys step through the images.
 * @param {HTMLDivElement} zoom
 * @param {() => void} close
 * @param {(by: number) => void} step
 */
function zoomKeys(zoom, close, step) {
  zoom.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement && event.key !== "Escape") return;  // typing
    if (event.key === "Escape") close();
    else if (event.key === "ArrowRight" || event.key === "ArrowDown") step(1);
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") step(-1);
    else return;
    event.preventDefault();
    event.stopPropagation();
  });
  zoom.addEventListener("mousedown", (event) => { if (event.target === zoom) close(); });
}

/**
 * The zoom overlay, appended to <body>: `open`, `close`, `showFull` (the kernel's full image for
 * what is shown), `showing` (whether that image is shown), and `cleanup`, which removes it.
 * @param {View} view
 * @param {ZoomActions} actions
 */
export function zoomView(view, actions) {
  const { model } = view;
  const bag = new UrlBag();
  const zoom = zoomOverlay();
  document.body.append(zoom);
  /** @type {{key: string, index: number} | null} */
  let zoomed = null;
  /** @type {HTMLElement | null} */
  let returnFocus = null;
  /**
   * @param {string} key
   * @param {number} index
   * @param {HTMLElement | null} [from]
   */
  const open = (key, index, from = null) => {
    const items = zoomSequence(model);
    const at = items.findIndex((i) => i.entry.key === key && i.thumb.index === index);
    if (at < 0) return;
    if (from) returnFocus = from;
    const { entry, thumb } = items[at];
    zoomed = { key, index };
    bag.revoke();
    zoom.replaceChildren();
    // The thumbnail at once, the full image when the kernel sends it.
    const [panel, buttons] = zoomPanel(view, entry, bag.make(thumb.data, thumb.mime), at, items.length);
    buttons.prev.addEventListener("click", () => step(-1));
    buttons.next.addEventListener("click", () => step(1));
    buttons.save.addEventListener("click", () => actions.askDownload(key, index));
    buttons.again.addEventListener("click", () => { close(); actions.reuse(entry); });
    buttons.more.addEventListener("click", () => { close(); model.send({ type: "variations", key, count: 4 }); });
    buttons.region.addEventListener("click", () => {
      const img = panel.querySelector("img.ig-zoom-image");
      if (!(img instanceof HTMLImageElement)) return;
      buttons.region.disabled = true;
      const size = { width: thumb.full_width ?? thumb.width, height: thumb.full_height ?? thumb.height };
      regionEditor(view, img, { key, index, ...size }, close);
    });
    buttons.close.addEventListener("click", close);
    zoom.append(panel);
    const parent = overlayParent(view.root);
    if (zoom.parentNode !== parent) parent.append(zoom);
    zoom.hidden = false;
    zoom.focus();
    if (view.live) model.send({ type: "full", key, index });
  };
  /** @param {number} by */
  const step = (by) => {
    if (!zoomed) return;
    const items = zoomSequence(model);
    const at = items.findIndex((i) => i.entry.key === zoomed?.key && i.thumb.index === zoomed?.index);
    const target = items[at + by];
    if (target) open(target.entry.key, target.thumb.index);
  };
  const close = () => {
    if (zoom.hidden) return;
    zoomed = null;
    zoom.hidden = true;
    zoom.replaceChildren();
    bag.revoke();
    if (returnFocus?.isConnected) returnFocus.focus({ preventScroll: true });
    returnFocus = null;
  };
  zoomKeys(zoom, close, step);
  /** @param {string} key @param {number} index */
  const showing = (key, index) => Boolean(zoomed && zoomed.key === key && zoomed.index === index);
  /** @param {DataView} data @param {string} mime */
  const showFull = (data, mime) => {
    const img = zoom.querySelector("img.ig-zoom-image");
    if (img instanceof HTMLImageElement) {
      img.src = bag.make(data, mime);
      img.dataset.full = "true";
    }
  };
  const cleanup = () => {
    bag.revoke();
    zoom.remove();
  };
  const drawZoomStars = () => drawStars(view, [zoom]);
  return { open, close, showing, showFull, drawZoomStars, cleanup };
}
