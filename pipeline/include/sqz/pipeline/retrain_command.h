// Retraining through a user's own command (e.g. python3 -m squeeze_compress.torch_retrain):
// the model is written as ONNX ({in}, with the preprocessing record of `metadata` as its
// "squeeze_compress.preprocess" property) with its masks as an ONNX of 0/1 weights ({masks});
// the command writes the retrained ONNX to {out}, which is read back and checked.
#pragma once

#include <string>

#include "sqz/format/sqz_file.h"
#include "sqz/prune/prune.h"

namespace sqz::pipeline {

class CommandRetrainHook : public prune::RetrainHook {
 public:
  // command: run by /bin/sh -c after replacing {in}, {out}, {masks} and {step} (paths are
  // shell-quoted). verbose: echo the command on stderr.
  CommandRetrainHook(std::string command, bool verbose, format::Metadata metadata = {});
  Status retrain(Model& model, int step, int steps, bool after_quantization) override;

 private:
  std::string command_;
  bool verbose_;
  format::Metadata metadata_;
};

// The quantized stage through a user's command (paper Eq. 3: codes fixed, centroids trained):
// as the hook above, with {codes}, an ONNX whose convolution weights are each stored
// position's code index (float; -1 where pruned, -2 in a layer without a codebook). The
// command writes to {out} the model with every weight equal to its retrained centroid;
// copy_trained_centroids reads it back.
Status retrain_centroids_by_command(Model& model, const std::string& command, bool verbose,
                                    const format::Metadata& metadata);

// The centroids (and biases) of `trained` into `model`'s codebooks: every stored position of
// a code must hold the same value (the code's new centroid), every pruned one 0; a codebook
// whose order changed is sorted and its codes renumbered (each weight keeps its cluster).
// Errors name the layer; `model` is unchanged on error.
Status copy_trained_centroids(const Model& trained, Model& model, const std::string& source);

// Copies convolution weights and biases from `trained` into `model`, matching layers in
// order; every shape must agree. Errors name the layer.
Status copy_trained_weights(const Model& trained, Model& model, const std::string& source);

}  // namespace sqz::pipeline
