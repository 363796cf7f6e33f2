#!/usr/bin/env bash
# Runs every command in the ```sh blocks of README.md and then of the pages under docs/ that it
# links (in the order a reader meets them: the tutorial defines $S before the usage page uses
# it), as written, from the repository root.
# Skipped, with a note: the two set-up commands (the test command is what CI runs; the main job
# takes minutes and is run by hand), the embedded model's training
# (11 minutes, and it would replace the committed model), lines marked "# takes N min" (the
# accuracy reproductions, each several minutes: their pipeline runs in the unit tests on a
# generated model) or "# after ... (it takes N min)" (they read such a line's output), and
# lines that need ../shared when it is absent.
# bench/peer.sh runs one round per row here (ROUNDS=1): the test checks that it works; its
# figures come from a run by hand. Prints each command's seconds and "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export ROUNDS=1
pages=(README.md docs/tutorial.md docs/usage.md docs/embedded-default.md docs/performance.md
  docs/performance-log.md)
for page in "${pages[@]}"; do
  [ -f "$page" ] || { echo "FAILED: $page is missing (the README links it)"; exit 1; }
done
for page in docs/*.md; do  # a new page's commands must not go untested
  [[ " ${pages[*]} " == *" $page "* ]] ||
    { echo "FAILED: $page is not in this test's pages"; exit 1; }
done
commands=$(awk '/^```sh$/ {on=1; next} /^```$/ {on=0} on' "${pages[@]}")
passed=0 failed=0 skipped=0
setup=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  if [ $setup -lt 2 ]; then setup=$((setup + 1)); echo "skip (set-up command): $line"; skipped=$((skipped + 1)); continue; fi
  case "$line" in
    *train_fashion*) echo "skip (retrains the committed model for 11 minutes): $line"; skipped=$((skipped + 1)); continue ;;
    *"# takes "*" min"* | *"# after "*"takes "*" min)"*)
      echo "skip (long reproduction, or uses one; run by hand): $line"; skipped=$((skipped + 1)); continue ;;
  esac
  if [[ "$line" == *'$S'* || "$line" == *../shared* ]] && [ ! -d ../shared/models ]; then
    echo "skip (needs ../shared): $line"; skipped=$((skipped + 1)); continue
  fi
  if [[ "$line" == S=* ]]; then eval "$line"; continue; fi
  t0=$SECONDS
  if out=$(eval "$line" 2>&1 >/dev/null); then
    passed=$((passed + 1)); echo "ok ($((SECONDS - t0)) s): $line"
  else
    failed=$((failed + 1)); echo "FAILED ($((SECONDS - t0)) s): $line"; echo "$out" | tail -5 | sed 's/^/    /'
  fi
done <<< "$commands"
echo "readme: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
