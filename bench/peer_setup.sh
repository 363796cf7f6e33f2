# Sourced by bench/peer.sh, bench/contention.sh and bench/peer_variants.sh (from the repository
# root): checks for Node.js, installs the ONNX Runtime peer, builds, and, when `model` is set
# (the release's directory), encodes the release as $sqz for $tool. $1: the calling script's
# name, for its messages.
command -v node >/dev/null || { echo "$1: node (Node.js) is needed for the ONNX Runtime peer" >&2; exit 1; }
bash bench/ort/install.sh
bash scripts/build.sh >/dev/null
tool=build/cli/squeeze-compress
sqz=build/bench-release.sqz
[ -z "${model:-}" ] || "$tool" encode "$model/compressed_SqueezeNet.net" --prototxt "$model/SqueezeNet_deploy.prototxt" \
  -o "$sqz" --force -q >/dev/null
