// The status line (spinner, status text, a ticking elapsed time), the streamed text, the error line.

import { el, onChanges } from "./dom.js";

/** @typedef {import("./dom.js").View} View */

/**
 * The error line: `draw` shows the `error` trait, `show` a message of the page's own.
 * @param {View} view
 */
export function errorLine(view) {
  const { model } = view;
  const node = el("div", "ig-error");
  node.setAttribute("role", "alert");
  const draw = () => {
    node.textContent = model.get("error");
    node.hidden = !model.get("error");
  };
  /** @param {string} text */
  const show = (text) => {
    node.textContent = text;
    node.hidden = false;
  };
  return { node, draw, show, cleanup: onChanges(model, { error: draw }) };
}

/**
 * What the key may still spend, as the kernel read it from the service (`key_left`, e.g. a
 * classroom gateway's "$0.92 left of $1.00 (alice)"); hidden when the service says nothing.
 * @param {View} view
 */
export function keyLine(view) {
  const { model } = view;
  const node = el("div", "ig-key");
  const draw = () => {
    const text = model.get("key_left") || "";  // state saved before the trait existed lacks it
    node.textContent = text;
    node.hidden = !text;
  };
  return { node, draw, cleanup: onChanges(model, { key_left: draw }) };
}

/**
 * The status line and the streamed text under it; `onChange` runs after each status redraw.
 * @param {View} view
 * @param {() => void} onChange
 */
export function statusLine(view, onChange) {
  const { model, root } = view;
  const status = el("div", "ig-status");
  status.setAttribute("aria-live", "polite");
  const spinner = el("span", "ig-spinner");
  const statusText = el("span", "ig-status-text");
  const elapsed = el("span", "ig-elapsed");
  status.append(spinner, statusText, elapsed);
  const stream = el("div", "ig-stream");
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
    onChange();
  };
  const drawStream = () => {
    stream.textContent = model.get("stream_text");
    stream.hidden = !model.get("stream_text") || model.get("status") === "done";
  };
  const stop = onChanges(model, {
    status: () => { drawStatus(); drawStream(); },
    status_text: drawStatus,
    elapsed: drawElapsed,
    stream_text: drawStream,
  });
  const cleanup = () => {
    stop();
    if (ticker !== undefined) window.clearInterval(ticker);
  };
  return { status, stream, drawStatus, drawStream, cleanup };
}
