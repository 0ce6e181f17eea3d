// Preloaded with `node --import ./guard.mjs`: any socket to a host other than loopback throws,
// so a client that phones home (telemetry, catalogue refresh) fails the test instead of leaving.
import net from "node:net";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);
const connect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function guardedConnect(...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0]; // net.connect's normalised arguments
  let host = "localhost";
  if (options && typeof options === "object") {
    if (options.path) return connect.apply(this, args); // a Unix socket
    host = options.host ?? "localhost";
  } else if (typeof args[1] === "string") {
    host = args[1];
  }
  if (!LOOPBACK.has(host) && !host.startsWith("127.")) {
    throw new Error(`conformance tests stay on 127.0.0.1; tried ${host}`);
  }
  return connect.apply(this, args);
};
