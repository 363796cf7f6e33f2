const ort = require('onnxruntime-node');
async function main() {
  const path = process.argv[2], threads = +(process.argv[3] || 1), runs = +(process.argv[4] || 30);
  const s = await ort.InferenceSession.create(path, {intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential'});
  const x = new ort.Tensor('float32', Float32Array.from({length: 3*227*227}, (_, i) => ((i * 7919) % 200) - 100), [1,3,227,227]);
  for (let i = 0; i < 5; ++i) await s.run({data: x});
  const t = [];
  for (let i = 0; i < runs; ++i) { const t0 = process.hrtime.bigint(); await s.run({data: x}); t.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  t.sort((a,b)=>a-b);
  console.log(`onnxruntime ${ort.env.versions.common} threads ${threads}: median ${t[t.length>>1].toFixed(2)} ms min ${t[0].toFixed(2)} ms`);
}
main();
