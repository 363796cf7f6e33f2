CLI transcripts: every subcommand on generated fixtures, then the usage errors.
$FIX holds m.onnx (3 classes, 31x31 inputs, 60% dense), images/ and synsets.txt.

Help and version.

  $ --version
  squeeze-compress 0.1.0
  $ --help
  usage: squeeze-compress COMMAND [options]
  
  commands:
    compress     the whole pipeline: prune, share weights, calibrate, Huffman-code into a .sqz
    prune        magnitude pruning with masks, schedules and a retraining hook
    sensitivity  prune each layer alone and measure the accuracy cost
    quantize     share weights: per-layer k-means codebooks, write a .sqz
    encode       write an already quantized model (e.g. the release) as .sqz
    decode       export a .sqz as dense float32 ONNX or Caffe
    bench        measure inference latency per layer and in total
    info         describe a model: layers, shapes, parameters, density, size
    run          classify images and print the top classes
    eval         measure top-1/top-5 accuracy on a folder of labelled images
    report       stage table, per-layer ledger and accuracy against size (Markdown, JSON, HTML)
  
  'squeeze-compress COMMAND --help' (or 'help COMMAND') describes a command.

Describing a model.

  $ info $FIX/m.onnx
  model   $FIX/m.onnx (7643 bytes)
  input   data [1, 3, 31, 31]
  output  pool_final [1, 3, 1, 1]
  
  layer                    op           geometry       output                  weights   non-zero  density
  conv1                    Convolution  k7x7 s2 p0     [1, 8, 13, 13]             1176        725    61.6%
  relu1                    ReLU                        [1, 8, 13, 13]      
  pool1                    MaxPool      k3 s2 p0       [1, 8, 6, 6]        
  fire/squeeze             Convolution  k1x1 s1 p0     [1, 4, 6, 6]                 32         17    53.1%
  fire/relu_s              ReLU                        [1, 4, 6, 6]        
  fire/e1                  Convolution  k1x1 s1 p0     [1, 6, 6, 6]                 24          8    33.3%
  fire/relu_e1             ReLU                        [1, 6, 6, 6]        
  fire/e3                  Convolution  k3x3 s1 p1     [1, 6, 6, 6]                216        138    63.9%
  fire/relu_e3             ReLU                        [1, 6, 6, 6]        
  fire/concat              Concat                      [1, 12, 6, 6]       
  drop                     Dropout                     [1, 12, 6, 6]       
  conv_final               Convolution  k1x1 s1 p1     [1, 3, 8, 8]                 36         20    55.6%
  relu_final               ReLU                        [1, 3, 8, 8]        
  pool_final               AvgPool      global         [1, 3, 1, 1]        
  
  weights 1484, non-zero 908 (density 61.2%), biases 27, dense float32 6044 bytes

Weight sharing, the ledger, decoding back to dense float32, re-encoding.

  $ quantize $FIX/m.onnx --bits 4 --layer-bits conv1=6 -o q.sqz
  layer                  bits centroids  non-zero        RMSE   SQNR dB   max |err|    H bits
  conv1                     6        64       725     0.00407     36.91     0.00908     5.930
  fire/squeeze              4        11        17     0.00822     30.96      0.0205     3.293
  fire/e1                   4         8         8           0       inf           0     3.000
  fire/e3                   4        16       138      0.0162     25.17      0.0382     3.904
  conv_final                4        11        20     0.00868     30.35       0.017     3.309
  wrote q.sqz (2136 bytes)
  $ info q.sqz
  model   q.sqz (2136 bytes)
  input   data [1, 3, 31, 31]
  output  pool_final [1, 3, 1, 1]
  
  layer                    op           geometry       output                  weights   non-zero  density
  conv1                    Convolution  k7x7 s2 p0     [1, 8, 13, 13]             1176        725    61.6%
  relu1                    ReLU                        [1, 8, 13, 13]      
  pool1                    MaxPool      k3 s2 p0       [1, 8, 6, 6]        
  fire/squeeze             Convolution  k1x1 s1 p0     [1, 4, 6, 6]                 32         17    53.1%
  fire/relu_s              ReLU                        [1, 4, 6, 6]        
  fire/e1                  Convolution  k1x1 s1 p0     [1, 6, 6, 6]                 24          8    33.3%
  fire/relu_e1             ReLU                        [1, 6, 6, 6]        
  fire/e3                  Convolution  k3x3 s1 p1     [1, 6, 6, 6]                216        138    63.9%
  fire/relu_e3             ReLU                        [1, 6, 6, 6]        
  fire/concat              Concat                      [1, 12, 6, 6]       
  drop                     Dropout                     [1, 12, 6, 6]       
  conv_final               Convolution  k1x1 s1 p1     [1, 3, 8, 8]                 36         20    55.6%
  relu_final               ReLU                        [1, 3, 8, 8]        
  pool_final               AvgPool      global         [1, 3, 1, 1]        
  
  weights 1484, non-zero 908 (density 61.2%), biases 27, dense float32 6044 bytes
  
  producer         squeeze-compress 0.1.0
  source           m.onnx
  source_fnv1a64   b6cea45d35afea46
  pipeline         quantize --bits 4 --init linear --method kmeans --layer-bits conv1=6
  
  layer                     header     bias  codebook  positions     values     total  positions coded as
  conv1                         18       32       258        161        585      1054  gaps-stored<1
  fire/squeeze                  18       16        46         18         27       125  gaps-stored<1
  fire/e1                       18       24        34         17         20       113  gaps-stored<1
  fire/e3                       18       24        66         41         89       238  gaps-stored<1
  conv_final                    18       12        46         19         28       123  gaps-stored<1
  
  file header 16 + directory 84 + graph 232 + metadata 147 + trailer 4 bytes
  total 2136 bytes (file 2136 bytes)
  $ decode q.sqz -o back.onnx
  wrote back.onnx
  $ encode back.onnx -o again.sqz
  layer                     header     bias  codebook  positions     values     total  positions coded as
  conv1                         18       32       258        161        585      1054  gaps-stored<1
  fire/squeeze                  18       16        46         18         27       125  gaps-stored<1
  fire/e1                       18       24        34         17         20       113  gaps-stored<1
  fire/e3                       18       24        66         41         89       238  gaps-stored<1
  conv_final                    18       12        46         19         28       123  gaps-stored<1
  
  file header 16 + directory 84 + graph 232 + metadata 116 + trailer 4 bytes
  total 2105 bytes (file 2105 bytes)
  positions: 256 bytes coded, order-0 entropy 177; values: 749 bytes coded, entropy 623
  wrote again.sqz (2105 bytes)
  $ info back.onnx --json
  {"model": "back.onnx", "file_bytes": 7643, "input": "data", "output": "pool_final",
   "layers": [
    {"name": "conv1", "op": "Convolution", "output_shape": [1, 8, 13, 13], "weights": 1176, "nonzero": 725},
    {"name": "relu1", "op": "ReLU", "output_shape": [1, 8, 13, 13]},
    {"name": "pool1", "op": "MaxPool", "output_shape": [1, 8, 6, 6]},
    {"name": "fire/squeeze", "op": "Convolution", "output_shape": [1, 4, 6, 6], "weights": 32, "nonzero": 17},
    {"name": "fire/relu_s", "op": "ReLU", "output_shape": [1, 4, 6, 6]},
    {"name": "fire/e1", "op": "Convolution", "output_shape": [1, 6, 6, 6], "weights": 24, "nonzero": 8},
    {"name": "fire/relu_e1", "op": "ReLU", "output_shape": [1, 6, 6, 6]},
    {"name": "fire/e3", "op": "Convolution", "output_shape": [1, 6, 6, 6], "weights": 216, "nonzero": 138},
    {"name": "fire/relu_e3", "op": "ReLU", "output_shape": [1, 6, 6, 6]},
    {"name": "fire/concat", "op": "Concat", "output_shape": [1, 12, 6, 6]},
    {"name": "drop", "op": "Dropout", "output_shape": [1, 12, 6, 6]},
    {"name": "conv_final", "op": "Convolution", "output_shape": [1, 3, 8, 8], "weights": 36, "nonzero": 20},
    {"name": "relu_final", "op": "ReLU", "output_shape": [1, 3, 8, 8]},
    {"name": "pool_final", "op": "AvgPool", "output_shape": [1, 3, 1, 1]}],
   "weights": 1484, "nonzero": 908, "biases": 27}

Pruning and its sensitivity analysis.

  $ prune $FIX/m.onnx --density 0.3 -o p.onnx
  layer                    weights      kept  density   threshold
  conv1                       1176       353    30.0%      0.2347
  fire/squeeze                  32        10    31.2%      0.2108
  fire/e1                       24         7    29.2%     0.01645
  fire/e3                      216        65    30.1%      0.2605
  conv_final                    36        11    30.6%      0.2187
  
  total density 61.19% -> 30.05% in 1 step(s)
  wrote p.onnx
  $ sensitivity $FIX/m.onnx --images $FIX/images --densities 0.5,0.2 -o sens
  baseline on 12 images: top-1 33.3%, top-5 100.0%
  layer \ density          0.50   0.20  proposed
  conv1                    91.7   83.3    0.20
  fire/squeeze            100.0   66.7    0.50
  fire/e1                 100.0  100.0    0.20
  fire/e3                 100.0  100.0    0.20
  conv_final              100.0  100.0    0.20
  
  for total density 0.25: squeeze-compress prune MODEL --density 1 --layer-density conv1=0.2 --layer-density conv_final=0.2 --layer-density fire/e1=0.2 --layer-density fire/e3=0.2 --layer-density fire/squeeze=0.5 -o OUT
  wrote sens/sensitivity.csv, sens/sensitivity.json, sens/sensitivity.svg
  10 pruned variants x 12 images in [0-9.]+ s (re)

Inference, accuracy and speed.

  $ run $FIX/m.onnx $FIX/images/n001_10.png --top 2
  $FIX/images/n001_10.png
       0      4\.52[0-9]{2}   (re)
       2      0\.01[0-9]{2}   (re)
  $ eval q.sqz --images $FIX/images
  images 12  top-1 33.33%  top-5 100.00%
  $ eval q.sqz --images $FIX/images --json
  {"model": "q.sqz", "images": 12, "top1": 0.3333, "top5": 1.0000}
  $ bench q.sqz --runs 3 --sparse-max-density 0.5
  layer +kernel +density +ms +GFLOP/s +nnz GF/s (re)
  conv1 +direct_[0-9]+x[0-9x]+_f32_\w+ \(codes\) \+pool1 +61\.6% .* (re)
  pool1 +in conv1 +100\.0% .* (re)
  fire/squeeze +\w+( pairs)? \(codes\).* 53\.1% .* (re)
  fire/e1 +\w+( pairs)? \(codes\).* 33\.3% .* (re)
  fire/e3 +\w+( pairs)? \(codes\).* 63\.9% .* (re)
  conv_final +\w+( pairs)? \(codes\).* 55\.6% .* (re)
  pool_final +AvgPool +100\.0% .* (re)
  
  q.sqz: threads 1, batch 1, 3 runs after 3 warm-up
  weights resident 0\.00[0-9] MB; peak RSS [0-9.]+ MB (re)
  dense-equivalent 0.00 GFLOP/image, on stored weights 0.00 GFLOP/image
  min [0-9.]+ ms  max [0-9.]+ ms (re)
  median [0-9.]+ ms (re)
  $ bench q.sqz --runs 1 --json
  \{"model": "q.sqz", "threads": 1, "usable_cpus": [0-9]+, "batch": 1, "runs": 1, .*, "convolutions_timed": 0, "convolutions_from_cache": 0, "images_per_pass": [0-9]+, (re)
   "machine": \{"vendor": ".*", "cpu": ".*", "uarch": .*, "l1d_shared_by": [0-9]+, .*, "logical_processors": [0-9]+\}, (re)
   "layers": [
   \{"layer": "conv1", "kernel": "spmm_[0-9]+_f32_\w+( pairs)? \(codes\) \+pool1", .* (re)
   \{"layer": "pool1", "kernel": "in conv1", .* (re)
   \{"layer": "fire/squeeze", "kernel": "spmm_.* (re)
   \{"layer": "fire/e1", "kernel": "spmm_.* (re)
   \{"layer": "fire/e3", "kernel": "spmm_.* (re)
   \{"layer": "conv_final", "kernel": "spmm_.* (re)
   \{"layer": "pool_final", "kernel": "AvgPool", .* (re)
  ]}
  $ bench q.sqz --sparse-max-density 2
  [2]

The whole pipeline and its report.

  $ compress $FIX/m.onnx --calib $FIX/images --calib-split 1/2 --bits 5 --calib-steps 4 --calib-batch 2 -o c.sqz -q
  stage                                bytes  vs input vs AlexNet    top-1    top-5 agreement       KL
  input (m.onnx)                        7643      1.0x   31401.3x   33.33%  100.00%   100.00%   0.0000
  compressed \(c\.sqz\) +2006 +3\.8x +119641\.1x +33\.33% +100\.00% +100\.00% +0\.00[0-9]+ (re)
  accuracy on 6 held-out images; agreement and KL against the first row's model
  $ eval c.sqz --images $FIX/images
  [1]
  $ report c.sqz
  # squeeze-compress report: c.sqz
  
  `c.sqz`: 2006 bytes, 119641.1x smaller than AlexNet (240 MB).
  
  ## Stages
  
  | stage | bytes | vs input | vs AlexNet (240 MB) | top-1 | top-5 | agreement | KL | stored as |
  | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
  | dense float32 | 6044 | 1.0x | 39708.8x | - | - | - | - | float32 weights and biases |
  | pruned | 4195 | 1.4x | 57211.0x | - | - | - | - | float32 values + 4-bit relative index (paper Sec. 2) |
  | pruned + quantized | 1564 | 3.9x | 153452.7x | - | - | - | - | codes + 4-bit relative index (paper Sec. 3); the .sqz's weights |
  | + Huffman (.sqz) | 2006 | 3.0x | 119641.1x | - | - | - | - | this file, run by the runtime |
  
  Accuracy not measured (no labelled images given).
  
  ## Per-layer ledger (bytes)
  
  | layer | weights | non-zero | density | bits | header | bias | codebook | positions | values | total |
  | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
  | conv1 | 1176 | 725 | 61.65% | 5 | 18 | 12 | 66 | 161 (gaps-stored<1) | 481 | 738 |
  | fire/squeeze | 32 | 17 | 53.12% | 5 | 18 | 8 | 36 | 18 (gaps-stored<1) | 31 | 111 |
  | fire/e1 | 24 | 8 | 33.33% | 5 | 18 | 10 | 18 | 17 (gaps-stored<1) | 20 | 83 |
  | fire/e3 | 216 | 138 | 63.89% | 5 | 18 | 10 | 64 | 41 (gaps-stored<1) | 113 | 246 |
  | conv_final | 36 | 20 | 55.56% | 5 | 18 | 7 | 42 | 19 (gaps-stored<1) | 33 | 119 |
  | *header* | | | | | | | | | | 16 |
  | *directory* | | | | | | | | | | 84 |
  | *graph* | | | | | | | | | | 232 |
  | *metadata* | | | | | | | | | | 373 |
  | *trailer* | | | | | | | | | | 4 |
  | **file** | | | | | | | | | | **2006** |

Usage errors exit 2 with nothing on stdout; failures exit 1.

  $ 
  [2]
  $ frobnicate
  [2]
  $ info
  [2]
  $ info $FIX/m.onnx --bogus
  [2]
  $ quantize $FIX/m.onnx --bits 4
  [2]
  $ quantize $FIX/m.onnx --layer-bits conv1 -o x.sqz
  [2]
  $ prune $FIX/m.onnx --density 0.5 --quality 1 -o x.onnx
  [2]
  $ run $FIX/m.onnx $FIX/images/n001_10.png --top 0
  [2]
  $ compress $FIX/m.onnx -o x.sqz --calib-split 1/2
  [2]
  $ compress $FIX/m.onnx -o x.sqz --calib $FIX/images --calib-split 0/2
  [2]
  $ compress $FIX/m.onnx -o x.sqz --calib $FIX/images --holdout-split 1/1 -q
  [1]
  $ report c.sqz --reference $FIX/m.onnx
  [2]
  $ bench q.sqz --threads 0
  [2]
  $ quantize $FIX/m.onnx --bits 4 -o q.sqz
  [1]
  $ decode $FIX/missing.sqz -o y.onnx
  [1]
