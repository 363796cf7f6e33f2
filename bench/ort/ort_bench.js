// ONNX Runtime peer: median latency of a Bx3x227x227 input over `runs` runs after 5 warm-ups,
// images per second, and the process's peak resident memory (Node.js itself included, and
// apart: the growth from before the session was created to the end).
// usage: node ort_bench.js MODEL.onnx [THREADS] [RUNS] [--batch B] [--size S] [--profile]
//   --batch B: the model's batch (bench/ort/batch_onnx.py writes a batch-B copy); default 1
//   --size S: the input's height and width (default 227); the input is the model's first
//   --profile: also print ONNX Runtime's own per-node median kernel times (its profiler).
const ort = require('onnxruntime-node');
const fs = require('fs');
async function main() {
  const path = process.argv[2], threads = +(process.argv[3] || 1), runs = +(process.argv[4] || 30);
  const profile = process.argv.includes('--profile');
  const at = process.argv.indexOf('--batch'), batch = at > 0 ? +process.argv[at + 1] : 1;
  const sizeAt = process.argv.indexOf('--size'), size = sizeAt > 0 ? +process.argv[sizeAt + 1] : 227;
  if (!(batch >= 1 && size >= 1)) throw new Error('ort_bench.js: --batch and --size must be positive');
  const rssBefore = process.memoryUsage().rss;
  const s = await ort.InferenceSession.create(path, {intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: profile, profileFilePrefix: '/tmp/ort_bench_profile'});
  const x = new ort.Tensor('float32', Float32Array.from({length: batch*3*size*size}, (_, i) => ((i * 7919) % 200) - 100), [batch,3,size,size]);
  const feeds = {[s.inputNames[0]]: x};
  for (let i = 0; i < 5; ++i) await s.run(feeds);
  const t = [];
  for (let i = 0; i < runs; ++i) { const t0 = process.hrtime.bigint(); await s.run(feeds); t.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  t.sort((a,b)=>a-b);
  const med = t[t.length>>1], peak = process.resourceUsage().maxRSS / 1024;
  console.log(`onnxruntime ${ort.env.versions.common} threads ${threads} batch ${batch}: median ${med.toFixed(2)} ms min ${t[0].toFixed(2)} ms ` +
              `images/s ${(1000 * batch / med).toFixed(1)} peak RSS ${peak.toFixed(1)} MB ` +
              `(growth from before the session ${((process.memoryUsage().rss - rssBefore) / 1048576).toFixed(1)} MB)`);
  if (!profile) return;
  await s.endProfiling();  // flushes the profile file
  const file = fs.readdirSync('/tmp').filter(f => f.startsWith('ort_bench_profile')).map(f => '/tmp/' + f)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  const times = new Map();
  for (const e of JSON.parse(fs.readFileSync(file))) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const key = e.name.slice(0, -'_kernel_time'.length) + ' (' + e.args.op_name + ')';
    if (!times.has(key)) times.set(key, []);
    times.get(key).push(e.dur / 1000);
  }
  for (const [name, d] of times) { d.sort((a, b) => a - b); console.log(`${d[d.length >> 1].toFixed(3)} ms  ${name}`); }
  fs.unlinkSync(file);
}
main();
