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

let result;
if (lib === 'yjs') {
  const Y = require('yjs');
  const replay = (doc, from, to) => {
    const t = doc.getText('text');
    for (let i = from; i < to; i++) {
      const [pos, del, ins] = patches[i];
      if (del > 0) t.delete(pos, del);
      if (ins !== '') t.insert(pos, ins);
    }
  };
  const times = [];
  let doc;
  for (let r = 0; r < runs; r++) {
    doc = new Y.Doc();
    const t0 = now();
    replay(doc, 0, patches.length);
    times.push(now() - t0);
    check(doc.getText('text').toString(), 'replay');
  }
  const bytes = Y.encodeStateAsUpdate(doc);
  const loads = [];
  for (let r = 0; r < runs; r++) {
    const t0 = now();
    const d = new Y.Doc();
    Y.applyUpdate(d, bytes);
    const s = d.getText('text').toString();
    loads.push(now() - t0);
    check(s, 'load');
  }
  const merges = [];
  for (let r = 0; r < runs; r++) {
    const a = new Y.Doc();
    replay(a, 0, half);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    replay(b, half, patches.length);
    const t0 = now();
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
    const s = a.getText('text').toString();
    merges.push(now() - t0);
    check(s, 'merge');
  }
  result = { replay_ms: median(times), encoded_bytes: bytes.length, load_ms: median(loads), merge_ms: median(merges) };
} else if (lib === 'dt') {
  const { Doc } = require('diamond-types-node');
  const replay = (doc, from, to) => {
    for (let i = from; i < to; i++) {
      const [pos, del, ins] = patches[i];
      if (del > 0) doc.del(pos, del);
      if (ins !== '') doc.ins(pos, ins);
    }
  };
  const times = [];
  let doc;
  for (let r = 0; r < runs; r++) {
    if (doc) doc.free();
    doc = new Doc('author');
    const t0 = now();
    replay(doc, 0, patches.length);
    times.push(now() - t0);
    check(doc.get(), 'replay');
  }
  const bytes = doc.toBytes();
  const loads = [];
  for (let r = 0; r < runs; r++) {
    const t0 = now();
    const d = Doc.fromBytes(bytes);
    const s = d.get();
    loads.push(now() - t0);
    check(s, 'load');
    d.free();
  }
  const merges = [];
  for (let r = 0; r < runs; r++) {
    const a = new Doc('a');
    replay(a, 0, half);
    const b = Doc.fromBytes(a.toBytes(), 'b');
    replay(b, half, patches.length);
    const t0 = now();
    a.mergeBytes(b.getPatchSince(a.getLocalVersion()));
    const s = a.get();
    merges.push(now() - t0);
    check(s, 'merge');
    a.free(); b.free();
  }
  result = { replay_ms: median(times), encoded_bytes: bytes.length, load_ms: median(loads), merge_ms: median(merges) };
} else {
  console.error('usage: node text_trace_peers.mjs TRACE.json.gz yjs|dt RUNS');
  process.exit(2);
}
if (global.gc) global.gc();
const m = process.memoryUsage();
result.memory_mb = ((m.heapUsed + m.external + m.arrayBuffers) / 1048576);
console.log(`${lib} replay_ms=${result.replay_ms.toFixed(2)} encoded_bytes=${result.encoded_bytes} load_ms=${result.load_ms.toFixed(2)} merge_ms=${result.merge_ms.toFixed(2)} memory_mb=${result.memory_mb.toFixed(1)}`);
