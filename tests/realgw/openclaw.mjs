// Call into an installed OpenClaw release's own shipped functions. Prints one JSON line.
//
//   node openclaw.mjs DIST call METHOD SCOPES_CSV [PARAMS_JSON]
//     A gateway call as OpenClaw's least-privilege callers make it (agent
//     tools, subagents): its callGateway, the state dir's device identity,
//     exactly these scopes.
//   node openclaw.mjs DIST verify-token BASE_DIR DEVICE_ID ROLE TOKEN
//     The release's verifyDeviceToken on the store under BASE_DIR, for a
//     device-token connect requesting no scopes (what a node host sends).
//   node openclaw.mjs DIST import-legacy BASE_DIR
//     The release's migrateLegacyDevicePairingStore (the SQLite import).
//
// The dist bundles are minified per release: each function is found by the
// `export { name as alias }` line of the chunk that defines it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// Chunks named by a prefix are read first; the rest only when none of them has it.
async function shipped(dist, prefixes, name) {
  const files = readdirSync(dist).filter((file) => /\.m?js$/.test(file)).sort();
  const first = files.filter((file) => prefixes.some((prefix) => file.startsWith(prefix)));
  for (const file of [...first, ...files.filter((file) => !first.includes(file))]) {
    const text = readFileSync(join(dist, file), "utf8");
    // A chunk importing the CLI entry runs the CLI on import (2.19's call-*.js).
    if (!text.includes(`function ${name}(`) || text.includes('from "./entry.js"')) continue;
    const found =
      text.match(new RegExp(`export \\{[^}]*\\b${name} as ([\\w$]+)`)) ??
      (new RegExp(`export \\{[^}]*\\b${name}\\b[,\\s}]`).test(text) ? [null, name] : null);
    if (found) {
      const mod = await import(pathToFileURL(join(dist, file)).href);
      return mod[found[1]];
    }
  }
  throw new Error(`${name} is not exported by any chunk of ${dist}`);
}

function done(result, code) {
  console.log(JSON.stringify(result));
  process.exit(code);
}

const [dist, verb, ...args] = process.argv.slice(2);
try {
  if (verb === "call") {
    const [method, scopesCsv, params] = args;
    const callGateway = await shipped(dist, ["call-"], "callGateway");
    const scopes = scopesCsv ? scopesCsv.split(",") : [];
    await callGateway({
      method,
      params: params ? JSON.parse(params) : undefined,
      scopes,
      timeoutMs: 20000,
    });
    done({ ok: true, method, scopes }, 0);
  } else if (verb === "verify-token") {
    const [baseDir, deviceId, role, token] = args;
    const verifyDeviceToken = await shipped(dist, ["device-pairing", "client-"], "verifyDeviceToken");
    const result = await verifyDeviceToken({ deviceId, token, role, scopes: [], baseDir });
    done({ ok: Boolean(result?.ok), reason: result?.reason ?? null }, 0);
  } else if (verb === "import-legacy") {
    const [baseDir] = args;
    const migrate = await shipped(
      dist,
      ["device-pairing-migration"],
      "migrateLegacyDevicePairingStore",
    );
    const result = await migrate({ baseDir });
    done({ ok: true, result }, 0);
  } else {
    done({ ok: false, error: `unknown verb ${verb}` }, 2);
  }
} catch (err) {
  const message = String(err?.message ?? err).split("\n")[0];
  done({ ok: false, error: message }, 1);
}
