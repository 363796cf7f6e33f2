# Sourced by the peer scripts in bench/ (from the repository root), with the calling script's
# name as $1, for its messages. Defines count_setting, which the scripts check their settings
# with first, median, goal (a figure beside its target), and peer_setup (ONNX Runtime's peers
# only), which then checks for Node.js, installs the ONNX Runtime peer, builds, and, when
# `model` is set (the release's directory), encodes the release as $sqz for $tool.
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

# goal LABEL VALUE OP LIMIT UNIT: prints VALUE beside its goal (OP one of <=, <, >; UNIT "x"
# for a ratio, shown to 2 decimals, else e.g. " ms") and "met" or "NOT met"; a missing VALUE is
# not met. Counts in goals_met and goals_total.
goal() {
  local ok shown=none
  ok=$(awk -v v="$2" -v l="$4" -v op="$3" \
    'BEGIN {print (v == "" ? 0 : op == "<=" ? v <= l : op == "<" ? v < l : op == ">" ? v > l : 0)}')
  [ -n "$2" ] &&
    shown=$(awk -v v="$2" -v u="$5" 'BEGIN {printf(u == "x" ? "%.2f%s" : "%.1f%s", v, u)}')
  goals_total=$((${goals_total:-0} + 1))
  [ "$ok" = 1 ] && goals_met=$((${goals_met:-0} + 1))
  printf '  %-36s %9s (goal %s %s%s): %s\n' "$1" "$shown" "$3" "$4" "$5" \
    "$( [ "$ok" = 1 ] && echo met || echo 'NOT met')"
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
