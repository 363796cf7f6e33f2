#!/usr/bin/env bash
# Installs the Debian packages squeeze-compress builds with; with --tests also those only the
# test suite needs (a headless browser, ...); with --bench those and LLVM's llvm-mca, which
# bench/crossover_model.py runs. Idempotent; quiet when all are present. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config      # toolchain
  libzstd-dev                    # zstd, for .sqz sections and the size ledger
  libeigen3-dev                  # Eigen::half: the .sqz binary16 biases and codebooks
  libboost-program-options-dev   # the CLI's option parsing
  libprotobuf-dev protobuf-compiler  # Caffe and ONNX importers/exporters
  doctest-dev                    # unit tests
  libjpeg-dev libpng-dev         # image decoding (libjpeg-turbo, libpng)
  nlohmann-json3-dev             # JSON reports
  zlib1g-dev                     # gzip-compressed IDX files
  libcpuinfo-dev                 # the machine description the runtime plans for
  dataset-fashion-mnist          # the embedded default's training data
  python3-dev pybind11-dev python3-numpy python3-tqdm  # the Python module: headers, bindings, arrays, bars
)
TEST_PACKAGES=(
  chromium fonts-dejavu-core     # tests: the HTML report renders in headless Chromium
  python3-onnx                   # tests: SqueezeNet variants built with the official onnx helpers
  python3-pil                    # tests: torchvision's preprocessing re-done with PIL
  python3-pytest python3-torch   # tests: the Python module, its PyTorch retraining (gloo DDP)
)
case "${1:-}" in
  "" | --tests | --bench) ;;
  *) echo "install-deps.sh: unknown option '$1' (--tests or --bench)" >&2; exit 2 ;;
esac
[ "${1:-}" = "--bench" ] && PACKAGES+=(llvm-14)  # llvm-mca: the kernels modelled on other CPUs
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--bench" ]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
  # ONNX Runtime (npm) is the tests' reference executor; Debian's Node.js where none is installed.
  command -v node >/dev/null || PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
