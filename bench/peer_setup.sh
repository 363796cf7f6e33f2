# Sourced by bench/peer.sh, bench/contention.sh and bench/peer_variants.sh (from the repository
# root), with the calling script's name as $1, for its messages. Defines count_setting, which
# the scripts check their settings with first, and peer_setup, which then checks for Node.js,
# installs the ONNX Runtime peer, builds, and, when `model` is set (the release's directory),
# encodes the release as $sqz for $tool.
script_name=$1

# count_setting NAME VALUE: VALUE, when a whole number from 1 to 1000; else the calling script
# stops, naming the setting (a round count of "abc" would otherwise give an empty median).
count_setting() {
  [[ $2 =~ ^[1-9][0-9]{0,2}$|^1000$ ]] && { echo "$2"; return; }
  echo "$script_name: $1 must be a whole number from 1 to 1000, not '$2'" >&2
  exit 2
}

peer_setup() {
  command -v node >/dev/null ||
    { echo "$script_name: node (Node.js) is needed for the ONNX Runtime peer" >&2; exit 1; }
  bash bench/ort/install.sh
  bash scripts/build.sh >/dev/null
  tool=build/cli/squeeze-compress
  sqz=build/bench-release.sqz
  [ -z "${model:-}" ] || "$tool" encode "$model/compressed_SqueezeNet.net" \
    --prototxt "$model/SqueezeNet_deploy.prototxt" -o "$sqz" --force -q >/dev/null
}
