#!/usr/bin/env bash
# Builds every fuzz target of fuzz/ and runs each briefly (about a minute in
# all by default); any crash, panic, timeout or out-of-memory fails the script.
#
#   bash .ci/fuzz.sh                 # ~15 s per target
#   FUZZ_SECONDS=300 bash .ci/fuzz.sh  # longer runs
#
# Seeds come from the recorded captures (../shared/captures) when present; the
# corpora live in fuzz/corpus/ (git-ignored) and grow across runs on one machine.
# Stable Rust: no sanitizer (`--sanitizer none`); debug assertions and overflow
# checks are on. Crash inputs are kept in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-15}"
TARGETS=(frame_stream snac_roundtrip tlv_block structured)
CAPTURES="${FLAPJACK_CAPTURES:-../shared/captures}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "==> building fuzz targets"
cargo fuzz build --sanitizer none

if compgen -G "$CAPTURES/*.pcapng" >/dev/null; then
  echo "==> seed corpora from $CAPTURES"
  cargo run --quiet --manifest-path fuzz/Cargo.toml --features seeds --bin seed_corpus -- "$CAPTURES" fuzz/corpus
else
  echo "==> no captures in $CAPTURES: fuzzing from empty corpora"
fi

failed=()
for t in "${TARGETS[@]}"; do
  echo "==> fuzzing $t for ${SECONDS_PER_TARGET}s"
  mkdir -p "fuzz/corpus/$t"
  log="$(mktemp)"
  if cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  else
    cat "$log"
    failed+=("$t")
  fi
  rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FUZZING FOUND CRASHES in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzzing: ${#TARGETS[@]} targets, no crash"
