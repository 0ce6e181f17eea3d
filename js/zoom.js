// The enlarged image: an overlay fixed to the viewport (on <body>, out of any cell's containment;
// in the widget's shadow root where the page gives it one, as marimo does, since the widget's
// styles live there) that shows the thumbnail at once and the full image when the kernel sends
// it; the arrow keys step through every image of the history, newest first.

import { UrlBag, caption, el } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").Model} Model */
/** @typedef {import("./dom.js").Picture} Picture */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/**
 * @typedef {{askDownload: (key: string, index: number) => void,
 *   reuse: (entry: HistoryEntry) => void}} ZoomActions
 * @typedef {{prev: HTMLButtonElement, next: HTMLButtonElement, save: HTMLButtonElement,
 *   again: HTMLButtonElement, close: HTMLButtonElement}} ZoomButtons
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
 * Every image of the history, newest first: what the arrow keys step through.
 * @param {Model} model
 * @returns {Array<{entry: HistoryEntry, thumb: Picture}>}
 */
function zoomSequence(model) {
  return (model.get("history") ?? []).flatMap((e) => e.thumbs.map((t) => ({ entry: e, thumb: t })));
}

/**
 * The panel for one image: the image, its caption and the buttons (wired by the caller).
 * @param {HistoryEntry} entry
 * @param {string} src
 * @param {number} at
 * @param {number} total
 * @param {boolean} live
 * @returns {[HTMLDivElement, ZoomButtons]}
 */
function zoomPanel(entry, src, at, total, live) {
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
  const close = el("button", "ig-button ig-close", "Close");
  bar.append(prev, position, next, save, again, close);
  panel.append(img, caption(entry), bar);
  return [panel, { prev, next, save, again, close }];
}

/**
 * Escape (or a click beside the panel) closes; the arrow keys step through the images.
 * @param {HTMLDivElement} zoom
 * @param {() => void} close
 * @param {(by: number) => void} step
 */
function zoomKeys(zoom, close, step) {
  zoom.addEventListener("keydown", (event) => {
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
    const [panel, buttons] = zoomPanel(entry, bag.make(thumb.data, thumb.mime), at, items.length, view.live);
    buttons.prev.addEventListener("click", () => step(-1));
    buttons.next.addEventListener("click", () => step(1));
    buttons.save.addEventListener("click", () => actions.askDownload(key, index));
    buttons.again.addEventListener("click", () => { close(); actions.reuse(entry); });
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
  return { open, close, showing, showFull, cleanup };
}
