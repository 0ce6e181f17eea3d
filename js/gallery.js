// The newest result (its previews, downloads, "Reuse this prompt") and the history grid of
// thumbnails. Each section owns its object URLs and revokes them when it is redrawn.

import { UrlBag, caption, el, onChanges } from "./dom.js";
import { starButton } from "./grid.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").Picture} Picture */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/**
 * What the gallery's images and buttons do, and what runs after each redraw.
 * @typedef {{openZoom: (key: string, index: number, from: HTMLElement) => void,
 *   closeZoom: () => void, askDownload: (key: string, index: number) => void,
 *   reuse: (entry: HistoryEntry) => void, afterDraw: () => void}} GalleryActions
 */

/**
 * @param {View} view
 * @param {Picture[]} pictures
 * @param {HistoryEntry} entry
 * @param {UrlBag} bag
 * @param {GalleryActions} actions
 */
function latestFigure(view, pictures, entry, bag, actions) {
  const figure = el("figure", "ig-figure");
  figure.dataset.key = entry.key;
  const row = el("div", "ig-latest-images");
  const buttons = el("div", "ig-actions");
  for (const picture of pictures) {
    const img = el("img", "ig-image");
    img.src = bag.make(picture.data, picture.mime);
    img.alt = `generated image ${picture.index + 1}`;
    img.width = picture.width;
    img.height = picture.height;
    img.dataset.width = String(picture.full_width ?? picture.width);
    img.dataset.height = String(picture.full_height ?? picture.height);
    img.addEventListener("click", () => actions.openZoom(entry.key, picture.index, img));
    row.append(img);
    const save = el("button", "ig-button ig-download", pictures.length > 1 ? `Download ${picture.index + 1}` : "Download");
    save.addEventListener("click", () => actions.askDownload(entry.key, picture.index));
    buttons.append(save);
  }
  const again = el("button", "ig-button ig-reuse", "Reuse this prompt");
  again.addEventListener("click", () => actions.reuse(entry));
  buttons.append(again, starButton(view, entry.key));
  figure.append(row, caption(entry), buttons);
  return figure;
}

/**
 * @param {View} view
 * @param {HistoryEntry} entry
 * @param {UrlBag} bag
 * @param {GalleryActions} actions
 */
function historyCard(view, entry, bag, actions) {
  const card = el("figure", "ig-card");
  card.dataset.key = entry.key;
  const thumbs = el("div", "ig-thumbs");
  for (const thumb of entry.thumbs) {
    const img = el("img", "ig-thumb");
    img.src = bag.make(thumb.data, thumb.mime);
    img.alt = `thumbnail ${thumb.index + 1}`;
    img.title = "Click to enlarge";
    img.addEventListener("click", () => actions.openZoom(entry.key, thumb.index, img));
    thumbs.append(img);
  }
  const small = el("figcaption", "ig-card-caption");
  small.append(el("div", "ig-caption-prompt", entry.prompt), el("div", "ig-caption-meta", entry.caption));
  const again = el("button", "ig-link ig-reuse", "reuse prompt");
  again.addEventListener("click", () => actions.reuse(entry));
  const row = el("div", "ig-card-actions");
  row.append(again, starButton(view, entry.key));
  small.append(row);
  card.append(thumbs, small);
  return card;
}

/**
 * "History (n)" and its "Clear history" link, which asks first: the gallery is the page's only
 * view of past results (w.results keeps them in the kernel, but a reader has no undo).
 * @param {View} view
 * @param {number} count
 * @param {GalleryActions} actions
 */
function historyTitle(view, count, actions) {
  const title = el("div", "ig-history-title");
  const clear = el("button", "ig-link ig-clear", "Clear history");
  const ask = el("span", "ig-clear-confirm");
  ask.setAttribute("role", "group");
  ask.hidden = true;
  const yes = el("button", "ig-link ig-clear-yes", "Clear");
  const no = el("button", "ig-link ig-clear-no", "Keep");
  ask.append(el("span", "", `Remove ${count === 1 ? "the result" : `all ${count} results`} from the gallery?`),
    yes, no);
  const asking = (/** @type {boolean} */ on) => {
    clear.hidden = on;
    ask.hidden = !on;
    (on ? no : clear).focus();
  };
  clear.addEventListener("click", () => asking(true));
  no.addEventListener("click", () => asking(false));
  yes.addEventListener("click", () => { actions.closeZoom(); view.model.send({ type: "clear" }); });
  title.append(el("span", "", `History (${count})`), clear, ask);
  return title;
}

/**
 * The latest result and the history; returns their containers, draws and cleanup.
 * @param {View} view
 * @param {GalleryActions} actions
 */
export function gallery(view, actions) {
  const { model } = view;
  const bags = { latest: new UrlBag(), history: new UrlBag() };
  const latest = el("div", "ig-latest");
  const history = el("div", "ig-history");
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
    latest.append(latestFigure(view, pictures, entry, bags.latest, actions));
  };
  const drawHistory = () => {
    bags.history.revoke();
    history.replaceChildren();
    const entries = model.get("history") ?? [];
    if (!entries.length) return;
    history.append(historyTitle(view, entries.length, actions));
    const grid = el("div", "ig-grid");
    for (const entry of entries) grid.append(historyCard(view, entry, bags.history, actions));
    history.append(grid);
  };
  const stop = onChanges(model, {
    latest: () => { drawLatest(); actions.afterDraw(); },
    history: () => { drawHistory(); drawLatest(); actions.afterDraw(); },
  });
  const cleanup = () => {
    stop();
    bags.latest.revoke();
    bags.history.revoke();
  };
  return { latest, history, drawLatest, drawHistory, cleanup };
}
