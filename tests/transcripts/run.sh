#!/usr/bin/env bash
# Runs CLI transcripts (cram style): a line "  $ ARGS" runs `squeeze-compress ARGS` (expanded by
# bash, with $FIX = generated fixtures and $OUT = a fresh folder shared by the file's cases);
# the indented lines after it are its expected stdout, "  [N]" its exit code (0 when absent);
# a line ending in " (re)" is an extended regular expression; unindented lines are prose.
# In stdout the paths of $FIX and $OUT read as "$FIX" and "$OUT". stderr is not compared.
# usage: run.sh SQUEEZE_COMPRESS MAKE_FIXTURES FILE.t... [--update]
set -uo pipefail
cli=$(realpath "$1") fixtures=$(realpath "$2")
shift 2
update=0
files=()
for a in "$@"; do [ "$a" = --update ] && update=1 || files+=("$a"); done
FIX=$(mktemp -d)
trap 'rm -rf "$FIX" "${OUT:-}"' EXIT
"$fixtures" "$FIX" || exit 1
export FIX
failures=0 cases=0

# Compares actual stdout (file) and exit code with the expected lines; prints a diff on failure.
check_case() {
  local args=$1 actual=$2 code=$3 expected=$4 want_code=$5
  local -a want got
  mapfile -t want < "$expected"
  mapfile -t got < "$actual"
  local ok=1 i
  [ "$code" = "$want_code" ] || ok=0
  [ ${#want[@]} -eq ${#got[@]} ] || ok=0
  if [ $ok -eq 1 ]; then
    for i in "${!want[@]}"; do
      local w=${want[$i]} g=${got[$i]}
      if [[ $w == *" (re)" ]]; then
        [[ $g =~ ^${w% (re)}$ ]] || { ok=0; break; }
      else
        [ "$w" = "$g" ] || { ok=0; break; }
      fi
    done
  fi
  cases=$((cases + 1))
  if [ $ok -eq 0 ]; then
    failures=$((failures + 1))
    echo "FAIL: squeeze-compress $args (exit $code, expected $want_code)"
    diff <(printf '%s\n' "${want[@]}") <(printf '%s\n' "${got[@]}") | sed 's/^/    /'
  fi
}

for file in "${files[@]}"; do
  OUT=$(mktemp -d)
  export OUT
  new=$(mktemp)
  args="" want_code=0 pending=0
  expected=$(mktemp)
  run_pending() {
    [ $pending -eq 1 ] || return 0
    local actual
    actual=$(mktemp)
    (cd "$OUT" && eval "\"$cli\" $args") > "$actual.raw" 2> /dev/null < /dev/null
    local code=$?
    sed -e "s|$FIX|\$FIX|g" -e "s|$OUT|\$OUT|g" "$actual.raw" > "$actual"
    if [ $update -eq 1 ]; then
      sed 's/^/  /' "$actual" >> "$new"
      [ $code -eq 0 ] || echo "  [$code]" >> "$new"
    else
      check_case "$args" "$actual" "$code" "$expected" "$want_code"
    fi
    rm -f "$actual" "$actual.raw"
    args="" want_code=0 pending=0
    : > "$expected"
  }
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line == "  \$ "* ]]; then
      run_pending
      args=${line#  \$ } pending=1
      [ $update -eq 1 ] && echo "$line" >> "$new"
    elif [[ $line == "  ["*"]" ]] && [ $pending -eq 1 ]; then
      want_code=${line#  [}
      want_code=${want_code%]}
    elif [[ $line == "  "* ]] && [ $pending -eq 1 ]; then
      printf '%s\n' "${line#  }" >> "$expected"
    else
      run_pending
      [ $update -eq 1 ] && printf '%s\n' "$line" >> "$new"
    fi
  done < "$file"
  run_pending
  [ $update -eq 1 ] && cp "$new" "$file"
  rm -rf "$OUT" "$new" "$expected"
done
if [ $update -eq 1 ]; then
  echo "updated ${files[*]}: review the diff"
  exit 0
fi
echo "$cases transcript cases, $failures failed"
[ $failures -eq 0 ]
