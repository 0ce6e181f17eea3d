// Custom messages: the page asks for downloads (the kernel prepares the file as result.save()
// writes it: metadata in the file, or, for an image signed with Content Credentials, the
// provider's bytes untouched plus a .json sidecar as a second file) and full-size images; the
// kernel replies, and asks for snapshots.

import { UrlBag, el } from "./dom.js";
import { writeSnapshot } from "./snapshot.js";

/** @typedef {import("./dom.js").View} View */
/**
 * The kernel's replies (see _widget_messages.py and _widget_snapshot.py).
 * @typedef {{type: "snapshot", data: Record<string, string>}} SnapshotReply
 * @typedef {{type: "full" | "download", key: string, index: number, missing: true}} MissingReply
 * @typedef {{type: "full", key: string, index: number, mime: string, width: number,
 *   height: number, missing?: undefined}} FullReply
 * @typedef {{type: "download", key: string, index: number, mime: string, name: string,
 *   sidecar?: string, missing?: undefined}} FileReply
 * @typedef {SnapshotReply | MissingReply | FullReply | FileReply} Reply
 * What the replies act on: the zoom overlay and the error line.
 * @typedef {{showing: (key: string, index: number) => boolean,
 *   showFull: (data: DataView, mime: string) => void}} FullTarget
 */

/**
 * @param {View} view
 * @param {string} key
 * @param {number} index
 */
export function askDownload(view, key, index) {
  if (view.live) view.model.send({ type: "download", key, index });
}

/**
 * Save a file the kernel sent, through a hidden link and an object URL freed 30 s later.
 * @param {HTMLElement} root
 * @param {{mime: string, name: string}} msg
 * @param {DataView} data
 */
function saveFile(root, msg, data) {
  const bag = new UrlBag();
  const link = el("a");
  link.href = bag.make(data, msg.mime);
  link.download = String(msg.name);
  link.hidden = true;
  root.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => bag.revoke(), 30_000);
}

/**
 * Handle the kernel's replies: full-size images, download files, snapshots; returns the cleanup.
 * @param {View} view
 * @param {FullTarget} zoom
 * @param {(text: string) => void} showError
 * @returns {() => void}
 */
export function kernelReplies(view, zoom, showError) {
  const { model } = view;
  /**
   * @param {Reply | null | undefined} msg
   * @param {DataView[]} buffers
   */
  const onMessage = (msg, buffers) => {
    if (msg?.type === "snapshot") {
      writeSnapshot(model, msg.data);
      return;
    }
    if (msg?.missing) {
      if (msg.type === "download" || zoom.showing(msg.key, msg.index)) {
        showError("That image is no longer available in the kernel.");
      }
      return;
    }
    if (!buffers?.length) return;
    if (msg?.type === "download") {
      saveFile(view.root, msg, buffers[0]);
      if (msg.sidecar && buffers[1]) saveFile(view.root, { mime: "application/json", name: msg.sidecar }, buffers[1]);
    } else if (msg?.type === "full" && zoom.showing(msg.key, msg.index)) {
      zoom.showFull(buffers[0], msg.mime);
    }
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}
