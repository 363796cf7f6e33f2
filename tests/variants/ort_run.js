// ONNX Runtime (npm onnxruntime-node, CPU) as the independent reference executor: runs MODEL on
// a raw float32 NCHW input of the given shape and writes the raw float32 output.
// usage: node ort_run.js ORT_MODULE_DIR MODEL.onnx INPUT.f32 N,C,H,W OUTPUT.f32
const [ortDir, model, input, shapeText, output] = process.argv.slice(2);
const ort = require(ortDir);
const fs = require('fs');
async function main() {
  const s = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, graphOptimizationLevel: 'disabled'});
  const shape = shapeText.split(',').map(Number);
  const buf = fs.readFileSync(input);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const out = await s.run({[s.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(x), shape)});
  const y = out[s.outputNames[0]].data;
  fs.writeFileSync(output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}
main().catch(e => { console.error(`ort_run.js: ${model}: ${e.message}`); process.exit(1); });
