// Exploring: the newest prompt matrix or "more like this" strip (the `grid` trait, filled cell by
// cell as the kernel's requests land) and the star every result carries (the `picked` trait;
// w.picks in Python, and the store keeps it). Cells are gallery entries: they zoom like any.

import { UrlBag, el, onChanges } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/** @typedef {import("./dom.js").GridState} GridState */
/** @typedef {import("./dom.js").GridCell} GridCell */
/**
 * @typedef {{openZoom: (key: string, index: number, from: HTMLElement) => void,
 *   afterDraw: () => void}} GridActions
 */

/**
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 */
function paintStar(button, on) {
  button.setAttribute("aria-pressed", String(on));
  button.setAttribute("aria-label", on ? "Unstar" : "Star");
  button.textContent = on ? "★" : "☆";
  button.title = on ? "Starred (in w.picks): click to unstar" : "Star: keep it in w.picks";
}

/**
 * A star toggle for one result; its look follows the `picked` trait (drawStars).
 * @param {View} view
 * @param {string} key
 */
export function starButton(view, key) {
  const button = el("button", "ig-star");
  button.type = "button";
  button.dataset.key = key;
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    if (view.live) view.model.send({ type: "star", key, starred: button.getAttribute("aria-pressed") !== "true" });
  });
  paintStar(button, (view.model.get("picked") ?? []).includes(key));
  return button;
}

/**
 * Every star under these roots shows the `picked` trait; a starred card is marked too (also in
 * a saved view, where the buttons are hidden).
 * @param {View} view
 * @param {Array<ParentNode>} roots
 */
export function drawStars(view, roots) {
  const picked = new Set(view.model.get("picked") ?? []);
  for (const root of roots) {
    for (const node of root.querySelectorAll("button.ig-star")) {
      const button = /** @type {HTMLButtonElement} */ (node);
      paintStar(button, picked.has(button.dataset.key ?? ""));
    }
    for (const node of root.querySelectorAll("[data-key]:not(button)")) {
      const item = /** @type {HTMLElement} */ (node);
      item.classList.toggle("ig-starred", picked.has(item.dataset.key ?? ""));
    }
  }
}

/**
 * One cell: a running request, the reason it has no image, or its thumbnail, star and caption.
 * @param {View} view
 * @param {GridCell} cell
 * @param {UrlBag} bag
 * @param {GridActions} actions
 */
function gridCell(view, cell, bag, actions) {
  const td = el("td", "ig-grid-cell");
  if (!cell) {
    td.dataset.state = "pending";
    td.append(el("div", "ig-grid-pending", "…"));
    return td;
  }
  if ("error" in cell) {
    td.dataset.state = "error";
    td.append(el("div", "ig-grid-error", cell.error));
    return td;
  }
  td.dataset.state = "done";
  td.dataset.key = cell.key;
  const thumb = cell.thumbs[0];
  if (thumb) {
    const img = el("img", "ig-grid-thumb");
    img.src = bag.make(thumb.data, thumb.mime);
    img.alt = `grid image: ${cell.prompt}`;
    img.title = "Click to enlarge";
    img.addEventListener("click", () => actions.openZoom(cell.key, thumb.index, img));
    td.append(img);
  }
  const meta = el("div", "ig-grid-meta");
  meta.append(starButton(view, cell.key), el("span", "ig-grid-caption", cell.caption));
  td.append(meta);
  return td;
}

/**
 * The grid as a table: column labels on top, row labels on the left.
 * @param {View} view
 * @param {GridState} grid
 * @param {UrlBag} bag
 * @param {GridActions} actions
 */
function gridTable(view, grid, bag, actions) {
  const table = el("table", "ig-grid-table");
  const head = el("tr");
  head.append(el("th", "ig-grid-corner"), ...grid.columns.map((c) => el("th", "ig-grid-col", c)));
  table.append(el("thead"), el("tbody"));
  table.tHead?.append(head);
  grid.rows.forEach((row, i) => {
    const tr = el("tr");
    tr.append(el("th", "ig-grid-row", row));
    grid.columns.forEach((_, j) => tr.append(gridCell(view, grid.cells[i * grid.columns.length + j] ?? null, bag, actions)));
    table.tBodies[0].append(tr);
  });
  return table;
}

/**
 * The grid section: drawn on every change of `grid` (a cell landed), empty when there is none.
 * @param {View} view
 * @param {GridActions} actions
 */
export function gridSection(view, actions) {
  const node = el("div", "ig-matrix");
  const bag = new UrlBag();
  const draw = () => {
    bag.revoke();
    node.replaceChildren();
    const grid = view.model.get("grid");
    if (!grid || !Array.isArray(grid.cells) || !grid.cells.length) return;
    node.dataset.kind = grid.kind;
    const title = el("div", "ig-grid-title");
    title.append(el("span", "ig-grid-name", grid.kind === "variations" ? "More like this: " : "Matrix: "),
      el("span", "ig-grid-template", grid.title));
    const note = el("div", "ig-grid-note", `${grid.done} of ${grid.total} done${grid.note ? ` · ${grid.note}` : ""}`);
    node.append(title, note, gridTable(view, grid, bag, actions));
  };
  const stop = onChanges(view.model, { grid: () => { draw(); actions.afterDraw(); } });
  const cleanup = () => {
    stop();
    bag.revoke();
  };
  return { node, draw, cleanup };
}
