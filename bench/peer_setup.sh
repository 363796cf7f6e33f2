# Sourced by the peer scripts in bench/ (from the repository root), with the calling script's
# name as $1, for its messages. Defines count_setting, which the scripts check their settings
# with first, median, and peer_setup (ONNX Runtime's peers only), which then checks for Node.js,
# installs the ONNX Runtime peer, builds, and, when `model` is set (the release's directory),
# encodes the release as $sqz for $tool.
script_name=$1

# count_setting NAME VALUE [MAX]: VALUE, when a whole number from 1 to MAX (default 1000); else
# the calling script stops, naming the setting (a round count of "abc" would otherwise give an
# empty median).
count_setting() {
  local max=${3:-1000}
  [[ $2 =~ ^[1-9][0-9]{0,8}$ ]] && [ "$2" -le "$max" ] && { echo "$2"; return; }
  echo "$script_name: $1 must be a whole number from 1 to $max, not '$2'" >&2
  exit 2
}

# The median of the numbers on standard input, one a line.
median() {
  sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
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
