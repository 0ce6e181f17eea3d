// The ImageGenWidget front end: plain ES modules with JSDoc types, no bundler. anywidget takes one
// module, so the Python side concatenates these (imports followed from this entry) at load time.
//
// Rules these modules keep: model/prompt text only ever goes through textContent (never
// innerHTML); images arrive as binary buffers (DataView, always raster) and are shown through
// object URLs that are revoked when replaced and when the view goes away; the page never talks to
// the API, it only sets traits and sends {type: "generate" | "cancel" | "clear" | "full" |
// "download" | "prices" | "drop" | "variations" | "edit" | "star"} messages. A view restored from saved notebook state has no kernel behind it: it says
// so and shows the saved previews, with no controls that could not work.
//
// Each part below builds its elements and returns its cleanup (every model.on has its model.off,
// every object URL is revoked); render() puts them together.

import { controlPanel, restoreInputs } from "./controls.js";
import { el, makeView, onChanges } from "./dom.js";
import { gallery } from "./gallery.js";
import { drawStars, gridSection } from "./grid.js";
import { inputImage } from "./input.js";
import { askDownload, kernelReplies } from "./messages.js";
import { modelNotice, modelPicker } from "./picker.js";
import { offlineBanner, showLive, watchLive } from "./snapshot.js";
import { errorLine, keyLine, statusLine } from "./status.js";
import { zoomView } from "./zoom.js";

/** @typedef {import("./dom.js").Model} Model */
/** @typedef {import("./dom.js").HistoryEntry} HistoryEntry */
/** @typedef {import("./dom.js").Traits} Traits */

/** @param {{model: Model, el: HTMLElement}} context */
function render({ model, el: host }) {
  const root = el("div", "ig-root");
  root.dataset.live = "unknown";
  // Keys typed here (Ctrl+Enter, arrows, a, b, d d ...) belong to the widget, not to notebook shortcuts.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const view = makeView(model, root);
  const offline = offlineBanner();
  const errors = errorLine(view);
  const image = inputImage(view, errors.show);
  const controls = controlPanel(view, [image.drop, image.fileInput]);
  const notice = modelNotice(view);
  const picker = modelPicker(view, () => drawModel());
  const drawModel = () => {
    controls.drawModel();
    picker.draw();
    notice.draw();
    image.draw();
    controls.drawGo();
  };
  const status = statusLine(view, controls.drawGo);
  const key = keyLine(view);
  const inputs = el("div", "ig-inputs");
  inputs.append(picker.node, notice.node, controls.prompt, controls.row, controls.hint,
    status.status, status.stream, key.node);
  /** @type {(key: string, index: number) => void} */
  const download = (key, index) => askDownload(view, key, index);
  /** @type {import("./grid.js").GridActions} */
  const opens = { openZoom: (key, index, from) => zoom.open(key, index, from), afterDraw: () => afterDraw() };
  const shown = gallery(view, { ...opens, closeZoom: () => zoom.close(), askDownload: download, reuse: (entry) => reuse(entry) });
  const grid = gridSection(view, opens);
  root.append(offline, inputs, errors.node, shown.latest, grid.node, shown.history);
  host.append(root);
  const zoom = zoomView(view, { askDownload: download, reuse: (entry) => reuse(entry) });

  /** @param {HistoryEntry} entry */
  const reuse = (entry) => {
    restoreInputs(view, entry);
    controls.drawPrompt();
    drawModel();
    controls.prompt.focus();
  };
  const afterDraw = () => {
    setLive(view.live);
    drawStars(view, [root]);
  };
  /** @param {boolean} isLive */
  const setLive = (isLive) => showLive(view, { offline, inputs, error: errors.node }, isLive);

  const cleanups = [
    onChanges(model, {
      models: drawModel, models_status: drawModel, model: drawModel, n: drawModel, seed: drawModel,
      prices: drawModel,
      input_image: () => { image.draw(); controls.drawGo(); },
      picked: () => { drawStars(view, [root]); zoom.drawZoomStars(); },
    }),
    kernelReplies(view, zoom, errors.show),
    errors.cleanup, image.cleanup, controls.cleanup, notice.cleanup, status.cleanup, shown.cleanup,
    grid.cleanup, zoom.cleanup, key.cleanup,
  ];

  drawModel();
  controls.drawPrompt();
  status.drawStatus();
  status.drawStream();
  key.draw();
  errors.draw();
  shown.drawLatest();
  shown.drawHistory();
  grid.draw();
  afterDraw();
  cleanups.push(watchLive(view, host, setLive));

  return () => {
    for (const cleanup of cleanups) cleanup();
    root.remove();
  };
}

/** @type {import("@anywidget/types").AnyWidget<Traits>} */
export default { render };
