// The model picker (type to filter, arrows to move, Enter picks) and the notice line under it.
//
// A listing may hold 100,000 models: the search runs over one lower-cased copy of the ids and
// names (made once per listing), and the list shows one page of matches (PAGE), with a line that
// says how many more there are. Prices beyond what the listing says are asked of the kernel for
// the page shown, once per model ({type: "prices", ids}); they arrive in the `prices` trait.

import { currentModel, el, modelList, onChanges, priceLabel } from "./dom.js";

/** @typedef {import("./dom.js").View} View */
/** @typedef {import("./dom.js").Model} Model */
/** @typedef {import("./dom.js").ModelEntry} ModelEntry */
/**
 * The picker's elements and where it is in the list (`matches`: the page shown; `asked`: the
 * models whose prices were asked for).
 * @typedef {{node: HTMLDivElement, search: HTMLInputElement, count: HTMLSpanElement,
 *   price: HTMLSpanElement, list: HTMLUListElement, highlighted: number, typed: boolean,
 *   matches: ModelEntry[], asked: Set<string>}} Picker
 */

/** Matches shown at once: the rest are counted, and found by typing more. */
const PAGE = 100;
/** @type {WeakMap<ModelEntry[], string[]>} each listing's ids and names, lower-cased, once */
const haystacks = new WeakMap();

/**
 * The page of models matching every word, and how many match in all (one pass, no copies).
 * @param {ModelEntry[]} models
 * @param {string[]} words
 * @returns {{page: ModelEntry[], total: number}}
 */
export function searchModels(models, words) {
  let hay = haystacks.get(models);
  if (!hay) {
    hay = models.map((m) => `${m.id}\n${m.name}`.toLowerCase());
    haystacks.set(models, hay);
  }
  /** @type {ModelEntry[]} */
  const page = [];
  let total = 0;
  for (let i = 0; i < models.length; i++) {
    if (words.every((w) => hay[i].includes(w))) {
      total++;
      if (page.length < PAGE) page.push(models[i]);
    }
  }
  return { page, total };
}

/**
 * An entry with the price the kernel read for it since (the `prices` trait), if any.
 * @param {Model} model
 * @param {ModelEntry} entry
 * @returns {ModelEntry}
 */
function priced(model, entry) {
  const known = (model.get("prices") ?? {})[entry.id];
  return known ? { ...entry, ...known } : entry;
}

/**
 * Ask the kernel for the prices of the models shown that it has not priced (each once).
 * @param {Model} model
 * @param {Picker} p
 */
function askPrices(model, p) {
  const known = model.get("prices") ?? {};
  const ids = p.matches.filter((m) => m.priced === false && !known[m.id] && !p.asked.has(m.id))
    .map((m) => m.id);
  if (!ids.length) return;
  for (const id of ids) p.asked.add(id);
  model.send({ type: "prices", ids });
}

/** @returns {Picker} */
function buildPicker() {
  const node = el("div", "ig-row ig-picker");
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
  node.append(el("label", "ig-label", "Model"), pickBox, count, price);
  return { node, search, count, price, list, highlighted: 0, typed: false, matches: [],
    asked: new Set() };
}

/**
 * The box shows the current model (unless being typed in), the price beside it while closed.
 * @param {Model} model
 * @param {Picker} p
 */
function drawPickerValue(model, p) {
  if (document.activeElement !== p.search) p.search.value = model.get("model");
  const current = currentModel(model);
  const entry = current && priced(model, current);
  p.price.textContent = entry && p.list.hidden ? priceLabel(entry) : "";
  p.price.hidden = !p.price.textContent;
  p.price.classList.toggle("ig-simulated", Boolean(entry?.simulated));
  p.price.title = entry?.simulated ? "Offline: a simulated price, nothing is charged" : "";
}

/**
 * @param {Model} model
 * @param {Picker} p
 * @param {(id: string) => void} pick
 */
function drawModelList(model, p, pick) {
  // Until something is typed, the box shows the current model and the list shows them all.
  const words = p.typed ? p.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean) : [];
  const found = searchModels(modelList(model), words);
  p.matches = found.page;
  if (p.highlighted < 0) p.highlighted = startRow(model, p);
  p.highlighted = Math.min(p.highlighted, Math.max(0, p.matches.length - 1));
  p.list.replaceChildren(...p.matches.map((m, i) => {
    const item = el("li", "ig-model-option");
    item.setAttribute("role", "option");
    item.dataset.id = m.id;
    item.setAttribute("aria-selected", String(i === p.highlighted));
    if (m.id === model.get("model")) item.setAttribute("aria-current", "true");
    item.append(el("span", "ig-option-name", m.name), el("span", "ig-option-id", m.id),
      el("span", "ig-option-price", priceLabel(priced(model, m))));
    item.addEventListener("mousedown", (event) => { event.preventDefault(); pick(m.id); });
    return item;
  }));
  if (!p.matches.length) p.list.append(el("li", "ig-model-empty", "No model matches."));
  const more = found.total - p.matches.length;
  if (more > 0) p.list.append(el("li", "ig-model-more", `${more} more: type to narrow the list`));
  askPrices(model, p);
  const total = modelList(model).length;
  p.count.textContent = model.get("models_status") === "loading" ? "loading models…"
    : words.length ? `${found.total} of ${total} models` : `${total} models`;
  p.list.querySelector("[aria-selected='true']")?.scrollIntoView({ block: "nearest" });
}

/**
 * Where the highlight starts: the row of an exactly typed id, else the current model's row when
 * nothing is typed (so Enter keeps it), else the first match.
 * @param {Model} model
 * @param {Picker} p
 */
function startRow(model, p) {
  const wanted = p.typed ? exactMatch(model, p.search.value)?.id : model.get("model");
  const at = p.matches.findIndex((m) => m.id === wanted);
  return Math.max(0, at);
}

/**
 * The model whose id (or name) is exactly what was typed, ignoring case and spaces around it.
 * @param {Model} model
 * @param {string} text
 */
function exactMatch(model, text) {
  const typed = text.trim().toLowerCase();
  if (!typed) return undefined;
  const models = modelList(model);
  return models.find((m) => m.id.toLowerCase() === typed)
    ?? models.find((m) => m.name.toLowerCase() === typed);
}

/**
 * @param {Model} model
 * @param {Picker} p
 */
function closeModelList(model, p) {
  p.list.hidden = true;
  p.search.setAttribute("aria-expanded", "false");
  p.search.value = model.get("model");
  const total = modelList(model).length;
  p.count.textContent = model.get("models_status") === "loading" ? "loading models…" : `${total} models`;
  drawPickerValue(model, p);
}

/**
 * Picking a model drops an aspect ratio or size it does not take.
 * @param {View} view
 * @param {string} id
 */
function chooseModel(view, id) {
  const { model } = view;
  const entry = modelList(model).find((m) => m.id === id);
  if (entry && model.get("image_size") && !entry.sizes.includes(model.get("image_size"))) model.set("image_size", "");
  if (entry && model.get("aspect_ratio") && !entry.aspect_ratios.includes(model.get("aspect_ratio"))) model.set("aspect_ratio", "");
  view.set("model", id);
}

/**
 * Leaving the box (Tab, a click elsewhere): a model whose id or name was typed in full is picked,
 * anything else puts the current model back in the box.
 * @param {View} view
 * @param {Picker} p
 * @param {() => void} onPick
 */
function leaveBox(view, p, onPick) {
  const { model } = view;
  const typed = p.typed ? exactMatch(model, p.search.value) : undefined;
  p.typed = false;
  const changed = Boolean(typed && typed.id !== model.get("model"));
  if (typed && changed) chooseModel(view, typed.id);
  closeModelList(model, p);
  if (changed) onPick();
}

/**
 * The model picker: `draw` redraws it from the model; `onPick` runs after a model is picked.
 * @param {View} view
 * @param {() => void} onPick
 */
export function modelPicker(view, onPick) {
  const { model } = view;
  const p = buildPicker();
  const { search, list } = p;
  const drawList = () => drawModelList(model, p, pick);
  const openList = () => {
    list.hidden = false;
    search.setAttribute("aria-expanded", "true");
    drawList();
    drawPickerValue(model, p);
  };
  /** @param {string} id */
  const pick = (id) => {
    p.typed = false;  // picked: leaving the box must not pick again from the typed text
    chooseModel(view, id);
    search.blur();
    closeModelList(model, p);
    onPick();
  };
  search.addEventListener("focus", () => { search.select(); p.highlighted = -1; p.typed = false; openList(); });
  search.addEventListener("input", () => { p.highlighted = -1; p.typed = true; openList(); });
  // Leaving the box (Tab, a click elsewhere) keeps a model whose id was typed in full.
  search.addEventListener("blur", () => leaveBox(view, p, onPick));
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) openList();
      const step = event.key === "ArrowDown" ? 1 : -1;
      p.highlighted = Math.max(0, Math.min(p.matches.length - 1, p.highlighted + step));
      drawList();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (p.matches[p.highlighted]) pick(p.matches[p.highlighted].id);
    } else if (event.key === "Escape") {
      event.preventDefault();
      p.typed = false;  // Escape leaves the model as it was
      search.blur();
    }
    event.stopPropagation();
  });
  const draw = () => {
    drawPickerValue(model, p);
    if (!list.hidden) drawList();
    else closeModelList(model, p);
  };
  return { node: p.node, draw };
}

/**
 * The notice line (from the kernel, or: no model selected); returns it, its draw and cleanup.
 * @param {View} view
 */
export function modelNotice(view) {
  const { model } = view;
  const node = el("div", "ig-notice");
  node.setAttribute("role", "status");
  const draw = () => {
    let text = model.get("notice");
    if (!text && model.get("models_status") === "ready" && !model.get("model")) {
      text = "No image model is selected: choose one from the list.";
    }
    node.textContent = text;
    node.hidden = !text;
  };
  return { node, draw, cleanup: onChanges(model, { notice: draw }) };
}
