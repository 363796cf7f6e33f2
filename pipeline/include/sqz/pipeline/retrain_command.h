// Retraining through a user's own command (e.g. a PyTorch fine-tuning script): the model is
// written as ONNX ({in}) with its masks as an ONNX of 0/1 weights ({masks}); the command
// writes the retrained ONNX to {out}, which is read back and checked.
#pragma once

#include <string>

#include "sqz/prune/prune.h"

namespace sqz::pipeline {

class CommandRetrainHook : public prune::RetrainHook {
 public:
  // command: run by /bin/sh -c after replacing {in}, {out}, {masks} and {step} (paths are
  // shell-quoted). verbose: echo the command on stderr.
  CommandRetrainHook(std::string command, bool verbose);
  Status retrain(Model& model, int step, int steps, bool after_quantization) override;

 private:
  std::string command_;
  bool verbose_;
};

// Copies convolution weights and biases from `trained` into `model`, matching layers in
// order; every shape must agree. Errors name the layer.
Status copy_trained_weights(const Model& trained, Model& model, const std::string& source);

}  // namespace sqz::pipeline
