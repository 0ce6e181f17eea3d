// The input image (for models that edit one): dropped on the widget or chosen with a file input,
// shown as a thumbnail with a button that removes it. A dropped file goes to the kernel first:
// an image the kit saved (or its .json sidecar) restores the settings it was made with instead.

import { UrlBag, el, hasBytes } from "./dom.js";

/** @typedef {import("./dom.js").View} View */

/**
 * Read a dropped or chosen file into the input image traits (raster formats only).
 * @param {View} view
 * @param {(text: string) => void} showError
 * @param {File | undefined | null} file
 */
async function takeFile(view, showError, file) {
  if (!file) return;
  if (!/^image\/(png|jpeg|webp|gif)$/.test(file.type)) {
    showError(`${file.name} is not a PNG, JPEG, WebP or GIF image.`);
    return;
  }
  const buffer = await file.arrayBuffer();
  view.model.set("input_mime", file.type);
  view.model.set("input_name", file.name);
  view.set("input_image", new DataView(buffer));
}

/**
 * Send dropped files (up to two: an image and its sidecar) to the kernel, which restores the
 * settings of an image the kit saved, or takes the image as the input image.
 * @param {View} view
 * @param {(text: string) => void} showError
 * @param {FileList | undefined | null} list
 */
async function sendDrop(view, showError, list) {
  const files = Array.from(list ?? []).slice(0, 2)
    .filter((f) => /^image\/(png|jpeg|webp|gif)$/.test(f.type) || /\.json$/i.test(f.name));
  if (!files.length) {
    const name = list?.[0]?.name ?? "That file";
    showError(`${name} is not a PNG, JPEG, WebP or GIF image, nor an image's .json sidecar.`);
    return;
  }
  const buffers = await Promise.all(files.map((f) => f.arrayBuffer()));
  view.model.send({ type: "drop", names: files.map((f) => f.name) }, undefined, buffers);
}

/**
 * @param {View} view
 * @param {HTMLDivElement} drop
 * @param {HTMLInputElement} fileInput
 * @param {UrlBag} bag
 */
function drawInputImage(view, drop, fileInput, bag) {
  const { model } = view;
  bag.revoke();
  drop.replaceChildren();
  const data = model.get("input_image");
  if (hasBytes(data)) {
    const thumb = el("img", "ig-input-thumb");
    thumb.alt = "input image";
    thumb.src = bag.make(data, model.get("input_mime") || "image/png");
    const name = el("span", "ig-input-name", model.get("input_name") || "input image");
    const clear = el("button", "ig-link ig-input-clear", "×");
    clear.title = "Remove the input image";
    clear.setAttribute("aria-label", "Remove the input image");
    clear.addEventListener("click", () => {
      model.set("input_image", new DataView(new ArrayBuffer(0)));
      model.set("input_mime", "");
      view.set("input_name", "");
    });
    drop.append(thumb, name, clear);
  } else {
    const choose = el("button", "ig-link", "add an image");
    choose.addEventListener("click", () => fileInput.click());
    drop.append(el("span", "ig-hint", "Edit: drop an image or "), choose);
  }
}

/**
 * The drop area and the (hidden) file input, for the controls row; `draw` redraws the thumbnail.
 * Files dropped anywhere on the widget are taken while it is live.
 * @param {View} view
 * @param {(text: string) => void} showError
 */
export function inputImage(view, showError) {
  const { root } = view;
  const bag = new UrlBag();
  const drop = el("div", "ig-drop");
  drop.setAttribute("aria-label", "Input image");
  const fileInput = el("input", "ig-file");
  fileInput.type = "file";
  fileInput.accept = "image/png,image/jpeg,image/webp,image/gif";
  fileInput.hidden = true;
  /** @param {DragEvent} event */
  const onDragOver = (event) => {
    event.preventDefault();
    event.stopPropagation();
    if (view.live) root.classList.add("ig-dragging");
  };
  /** @param {DragEvent} event */
  const onDrop = (event) => {
    event.preventDefault();
    event.stopPropagation();
    root.classList.remove("ig-dragging");
    if (view.live) void sendDrop(view, showError, event.dataTransfer?.files);
  };
  const onDragLeave = () => root.classList.remove("ig-dragging");
  root.addEventListener("dragover", onDragOver);
  root.addEventListener("drop", onDrop);
  root.addEventListener("dragleave", onDragLeave);
  fileInput.addEventListener("change", () => {
    void takeFile(view, showError, fileInput.files?.[0]);
    fileInput.value = "";
  });
  const cleanup = () => {
    bag.revoke();
    root.removeEventListener("dragover", onDragOver);
    root.removeEventListener("drop", onDrop);
    root.removeEventListener("dragleave", onDragLeave);
  };
  return { drop, fileInput, draw: () => drawInputImage(view, drop, fileInput, bag), cleanup };
}
