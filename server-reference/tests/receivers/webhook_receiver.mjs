#!/usr/bin/env node
// HTTPS webhook receiver used by Breeze's end-to-end tests as an independent oracle.
//
// Every POST is checked with the `standardwebhooks` package from npm (never with Breeze
// code), once per secret listed in --secrets-file, and recorded as one JSON line in --log.
// See README.md beside this file for the command line and the log format, which the Python
// receiver (webhook_receiver.py) shares.
//
// Node 20, ESM, node: built-ins + standardwebhooks@1.3.0 only.

import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

const RECEIVER = "node";
const MAX_BODY = 1024 * 1024; // 1 MiB
const IO_TIMEOUT_MS = 30_000;

function warn(msg) {
  process.stderr.write(`webhook_receiver.mjs: ${msg}\n`);
}

function usage(msg) {
  process.stderr.write(
    `${msg}\nusage: webhook_receiver.mjs --cert PEM --key PEM --secrets-file PATH --log PATH ` +
      "--port-file PATH [--status-file PATH] [--redirect-to URL]\n",
  );
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      "secrets-file": { type: "string" },
      log: { type: "string" },
      "port-file": { type: "string" },
      "status-file": { type: "string" },
      "redirect-to": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  usage(e.message);
}
for (const required of ["cert", "key", "secrets-file", "log", "port-file"]) {
  if (!args[required]) usage(`missing --${required}`);
}

// (true, value) when the body is UTF-8 JSON, else (false, null). A byte order mark is kept,
// so JSON.parse rejects it exactly as Python's json does.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function parseJson(raw) {
  try {
    const value = JSON.parse(utf8.decode(raw));
    JSON.stringify(value); // nesting too deep to write back counts as not JSON
    return [true, value];
  } catch {
    return [false, null];
  }
}

function loadSecrets(file) {
  let entries;
  try {
    entries = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    warn(`cannot read secrets file ${file}: ${e.message}`);
    return [];
  }
  if (!Array.isArray(entries)) {
    warn(`secrets file ${file} is not a JSON array`);
    return [];
  }
  return entries
    .filter((e) => e !== null && typeof e === "object" && typeof e.secret === "string")
    .map((e) => [String(e.name), e.secret]);
}

function verifiedWith(body, headers) {
  const names = [];
  for (const [name, secret] of loadSecrets(args["secrets-file"])) {
    try {
      new Webhook(secret).verify(body, headers, { jsonParse: false });
    } catch {
      continue; // bad secret, missing/malformed headers, stale timestamp, bad signature
    }
    names.push(name);
  }
  return names;
}

function readStatusFile() {
  const file = args["status-file"];
  if (!file) return null;
  let text;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
  if (!/^[+-]?\d+$/.test(text)) {
    warn(`status file ${file} does not hold an integer: ${JSON.stringify(text)}`);
    return null;
  }
  const status = Number.parseInt(text, 10);
  if (status < 200 || status > 599) {
    warn(`status file ${file}: ${status} is outside 200-599, ignored`);
    return null;
  }
  return status;
}

// One synchronous append per line: the event loop runs one request's code at a time, so
// lines never interleave.
function appendLog(record) {
  fs.appendFileSync(args.log, `${JSON.stringify(record)}\n`, { flag: "a", mode: 0o644 });
}

function sendJson(res, status, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const body = JSON.stringify({ ok: status >= 200 && status < 300 });
  headers["Content-Type"] = "application/json";
  headers["Content-Length"] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}

function header(req, name) {
  const v = req.headers[name];
  return typeof v === "string" ? v : null;
}

function handlePost(req, res) {
  const receivedAt = Date.now() / 1000;
  const hdr = {
    "webhook-id": header(req, "webhook-id"),
    "webhook-timestamp": header(req, "webhook-timestamp"),
    "webhook-signature": header(req, "webhook-signature"),
  };
  const record = {
    receiver: RECEIVER,
    path: req.url,
    id: hdr["webhook-id"],
    timestamp: hdr["webhook-timestamp"],
    signature: hdr["webhook-signature"],
    verifiedWith: [],
    body: null,
    receivedAt,
  };

  const tooLarge = () => {
    record.status = 413;
    appendLog(record);
    // The rest of the body is never read: close the connection after the answer.
    sendJson(res, 413, { Connection: "close" });
  };

  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > MAX_BODY) {
    tooLarge();
    return;
  }

  const chunks = [];
  let size = 0;
  let done = false;
  req.on("data", (chunk) => {
    if (done) return;
    size += chunk.length;
    if (size > MAX_BODY) {
      done = true;
      chunks.length = 0;
      tooLarge();
      return;
    }
    chunks.push(chunk);
  });
  req.on("error", (e) => {
    // Malformed chunking or a client that went away mid-body: logged as a 400, like the
    // Python receiver; the "clientError" handler answers (or drops) the connection.
    if (done) return;
    done = true;
    warn(`request body: ${e.message}`);
    record.status = 400;
    appendLog(record);
  });
  req.on("end", () => {
    if (done) return;
    done = true;
    const body = Buffer.concat(chunks);

    const present = {};
    for (const [k, v] of Object.entries(hdr)) if (v !== null) present[k] = v;
    record.verifiedWith = verifiedWith(body, present);
    const [isJson, value] = parseJson(body);
    if (isJson) record.body = value;
    else record.bodyText = body.toString("utf8");

    let status = readStatusFile();
    let extra = {};
    if (status === null) {
      if (args["redirect-to"]) {
        status = 307;
        extra = { Location: args["redirect-to"] };
      } else {
        status = record.verifiedWith.length > 0 ? 200 : 400;
      }
    }
    record.status = status;
    appendLog(record);
    sendJson(res, status, extra);
  });
}

function handle(req, res) {
  try {
    if (req.method === "POST") {
      handlePost(req, res);
    } else if (req.method === "GET") {
      const p = req.url.split("?", 1)[0];
      const [status, body] = p === "/health" ? [200, "ok"] : [404, "not found"];
      res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": body.length });
      res.end(body);
    } else {
      res.writeHead(501, { "Content-Type": "text/plain", "Content-Length": 15 });
      res.end("not implemented");
    }
  } catch (e) {
    warn(`error while serving ${req.method} ${req.url}: ${e.stack || e}`);
    if (!res.headersSent) {
      try {
        sendJson(res, 500, { Connection: "close" });
      } catch {
        res.destroy();
      }
    }
  }
}

function writePortFile(file, port) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp.${process.pid}`);
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, `${port}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

const server = https.createServer(
  {
    cert: fs.readFileSync(args.cert),
    key: fs.readFileSync(args.key),
    handshakeTimeout: IO_TIMEOUT_MS,
  },
  handle,
);
server.setTimeout(IO_TIMEOUT_MS);
// TLS handshake failures (a client that does not trust the test CA) and malformed HTTP
// both land here: report them, never crash.
server.on("clientError", (e, socket) => {
  warn(`client error: ${e.code || ""} ${e.message.split("\n")[0]}`);
  if (e.code !== "ECONNRESET" && socket.writable && !socket.destroyed) {
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  } else {
    socket.destroy();
  }
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.listen(0, "127.0.0.1", () => {
  writePortFile(args["port-file"], server.address().port);
});
