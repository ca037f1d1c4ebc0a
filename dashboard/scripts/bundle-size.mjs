// Prints the production bundle's size (raw and gzip) after `vite build`,
// writes a precompressed .gz beside each text asset (the gateway serves it
// to browsers that accept gzip), and fails if the JavaScript and CSS a
// first visit downloads exceed the budget.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const DIST = new URL("../dist/", import.meta.url).pathname;
const BUDGET_GZIP = 200 * 1024; // first-load JS + CSS (what index.html references), gzipped

/** @param {string} dir @returns {string[]} */
function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const rows = [];
let total = 0;
let totalGz = 0;
let firstGz = 0;
let codeGz = 0;
const index = readFileSync(join(DIST, "index.html"), "utf8");
const firstLoad = new Set([...index.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]));
for (const file of walk(DIST).filter((f) => !f.endsWith(".gz")).sort()) {
  const buf = readFileSync(file);
  const text = /\.(js|css|html|svg|json|txt)$/.test(file);
  const gz = text ? gzipSync(buf, { level: 9 }) : buf;
  if (text && gz.length < buf.length) writeFileSync(`${file}.gz`, gz);
  total += buf.length;
  totalGz += gz.length;
  if (/\.(js|css)$/.test(file)) codeGz += gz.length;
  if (firstLoad.has(relative(DIST, file))) firstGz += gz.length;
  rows.push([relative(DIST, file), kib(buf.length), kib(gz.length)]);
}
const w = Math.max(...rows.map((r) => r[0].length), 4);
console.log(`\nProduction bundle (dashboard/dist):`);
console.log(`  ${"file".padEnd(w)}  ${"size".padStart(10)}  ${"gzip".padStart(10)}`);
for (const [f, s, g] of rows) console.log(`  ${f.padEnd(w)}  ${s.padStart(10)}  ${g.padStart(10)}`);
console.log(`  ${"total".padEnd(w)}  ${kib(total).padStart(10)}  ${kib(totalGz).padStart(10)}`);
console.log(`  all JS + CSS, gzip: ${kib(codeGz)}; first load (index.html's JS + CSS), gzip: ${kib(firstGz)} (budget ${kib(BUDGET_GZIP)})\n`);
if (firstGz > BUDGET_GZIP) {
  console.error(`first load over budget: ${kib(firstGz)} > ${kib(BUDGET_GZIP)}`);
  process.exit(1);
}
