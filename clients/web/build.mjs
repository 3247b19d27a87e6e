// Builds the web client into dist/: hashed assets under dist/assets/ and an index.html
// that loads them (no inline script, so parleyd can serve a strict CSP).
//
// Reproducible: the same package-lock.json gives byte-identical output (esbuild is
// deterministic, file names carry content hashes), so CI rebuilds and compares with the
// committed dist/. Run through ../../scripts/build-web (npm ci, then this).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const assets = join(dist, "assets");

rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

// The Rust crypto's WebAssembly, under a content-hashed name the bundle is told about.
const wasmSource = join(
    here, "node_modules", "@matrix-org", "matrix-sdk-crypto-wasm", "pkg", "matrix_sdk_crypto_wasm_bg.wasm",
);
const wasmBytes = readFileSync(wasmSource);
const wasmName = `crypto-${createHash("sha256").update(wasmBytes).digest("hex").slice(0, 16)}.wasm`;
copyFileSync(wasmSource, join(assets, wasmName));

const result = await esbuild.build({
    entryPoints: { app: join(here, "src", "main.jsx") },
    bundle: true,
    minify: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox115", "safari16"],
    outdir: assets,
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    jsx: "automatic",
    jsxImportSource: "preact",
    loader: { ".svg": "file", ".png": "file" },
    define: {
        "process.env.NODE_ENV": '"production"',
        __CRYPTO_WASM__: JSON.stringify(`/assets/${wasmName}`),
    },
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint && o.entryPoint.endsWith("main.jsx"));
const css = outputs.find(([name]) => name.endsWith(".css") && !name.endsWith(".map"));
const rel = (p) => "/assets/" + basename(p);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Parley</title>
<link rel="icon" href="/assets/${basename(copyIcon())}">
${css ? `<link rel="stylesheet" href="${rel(css[0])}">\n` : ""}<script type="module" src="${rel(entry[0])}"></script>
</head>
<body>
<div id="app"><noscript>Parley needs JavaScript.</noscript></div>
</body>
</html>
`;
writeFileSync(join(dist, "index.html"), html);

function copyIcon() {
    const source = join(here, "src", "icon.svg");
    const bytes = readFileSync(source);
    const name = `icon-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.svg`;
    copyFileSync(source, join(assets, name));
    return name;
}

// Sizes, for the notes (the bundle size is reported).
let total = 0;
for (const [name, o] of outputs) {
    if (!name.endsWith(".map")) total += o.bytes;
}
console.log(`web client: ${outputs.length} files, ${(total / 1024).toFixed(0)} KiB of JS/CSS, ` +
    `crypto WASM ${(wasmBytes.length / 1024).toFixed(0)} KiB`);
