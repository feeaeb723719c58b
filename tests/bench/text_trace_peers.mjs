// Replays an editing trace (josephg/editing-traces format) with Yjs and with
// diamond-types, printing the same figures as text_trace_bench, one
// "key=value" line per library. Run by scripts/text-trace-compare.
//
//   node text_trace_peers.mjs TRACE.json.gz yjs|dt RUNS
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [file, lib, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const trace = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
const patches = [];
for (const txn of trace.txns) for (const p of txn.patches) patches.push(p);
const half = Math.floor(patches.length / 2);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const now = () => Number(process.hrtime.bigint()) / 1e6;

function check(text, what) {
  if (text !== trace.endContent) {
    console.error(`${lib}: ${what}: final text differs from endContent`);
    process.exit(1);
  }
}

// One adapter per library; the measuring loops below are shared. Each
// adapter keeps its own replay loop with direct calls: going through a
// generic insert/remove wrapper cost diamond-types about 40 % in replay.
const adapters = {
  yjs() {
    const Y = require('yjs');
    return {
      create: () => new Y.Doc(),
      replay(doc, from, to) {
        const t = doc.getText('text');
        for (let i = from; i < to; i++) {
          const [pos, del, ins] = patches[i];
          if (del > 0) t.delete(pos, del);
          if (ins !== '') t.insert(pos, ins);
        }
      },
      text: (doc) => doc.getText('text').toString(),
      encode: (doc) => Y.encodeStateAsUpdate(doc),
      load: (bytes) => { const d = new Y.Doc(); Y.applyUpdate(d, bytes); return d; },
      fork: (doc) => { const d = new Y.Doc(); Y.applyUpdate(d, Y.encodeStateAsUpdate(doc)); return d; },
      merge: (into, from) => Y.applyUpdate(into, Y.encodeStateAsUpdate(from, Y.encodeStateVector(into))),
      free: () => {},
    };
  },
  dt() {
    const { Doc } = require('diamond-types-node');
    return {
      create: () => new Doc('author'),
      replay(doc, from, to) {
        for (let i = from; i < to; i++) {
          const [pos, del, ins] = patches[i];
          if (del > 0) doc.del(pos, del);
          if (ins !== '') doc.ins(pos, ins);
        }
      },
      text: (doc) => doc.get(),
      encode: (doc) => doc.toBytes(),
      load: (bytes) => Doc.fromBytes(bytes),
      fork: (doc) => Doc.fromBytes(doc.toBytes(), 'b'),
      merge: (into, from) => into.mergeBytes(from.getPatchSince(into.getLocalVersion())),
      free: (doc) => doc.free(),
    };
  },
};

if (!adapters[lib]) {
  console.error('usage: node text_trace_peers.mjs TRACE.json.gz yjs|dt RUNS');
  process.exit(2);
}
const a = adapters[lib]();
const replay = (doc, from, to) => a.replay(doc, from, to);

const times = [];
let doc;
for (let r = 0; r < runs; r++) {
  if (doc) a.free(doc);
  doc = a.create();
  const t0 = now();
  replay(doc, 0, patches.length);
  times.push(now() - t0);
  check(a.text(doc), 'replay');
}
const bytes = a.encode(doc);
const loads = [];
for (let r = 0; r < runs; r++) {
  const t0 = now();
  const d = a.load(bytes);
  const s = a.text(d);
  loads.push(now() - t0);
  check(s, 'load');
  a.free(d);
}
const merges = [];
for (let r = 0; r < runs; r++) {
  const x = a.create();
  replay(x, 0, half);
  const y = a.fork(x);
  replay(y, half, patches.length);
  const t0 = now();
  a.merge(x, y);
  const s = a.text(x);
  merges.push(now() - t0);
  check(s, 'merge');
  a.free(x);
  a.free(y);
}
const result = { replay_ms: median(times), encoded_bytes: bytes.length, load_ms: median(loads), merge_ms: median(merges) };
if (global.gc) global.gc();
const m = process.memoryUsage();
result.memory_mb = ((m.heapUsed + m.external + m.arrayBuffers) / 1048576);
console.log(`${lib} replay_ms=${result.replay_ms.toFixed(2)} encoded_bytes=${result.encoded_bytes} load_ms=${result.load_ms.toFixed(2)} merge_ms=${result.merge_ms.toFixed(2)} memory_mb=${result.memory_mb.toFixed(1)}`);
