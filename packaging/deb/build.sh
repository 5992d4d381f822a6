#!/usr/bin/env bash
# Builds the .deb: the binary, the man pages and shell completions it generates (into
# target/assets/), then cargo-deb with the metadata in Cargo.toml ([package.metadata.deb]).
# Prints the path of the .deb on its last line.
#   bash packaging/deb/build.sh                  (needs: cargo install cargo-deb --locked)
#   PROFILE=dev bash packaging/deb/build.sh      (a quick package from the debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE=${PROFILE:-release}

command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }
cargo build --profile "$PROFILE" --locked --bin clawvisor >&2
dir=$PROFILE; [ "$PROFILE" = dev ] && dir=debug
bin=target/$dir/clawvisor
assets=target/assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/clawvisor.bash"
"$bin" completions zsh >"$assets/completions/_clawvisor"
"$bin" completions fish >"$assets/completions/clawvisor.fish"
# cargo-deb maps the assets' target/release/ to the profile's directory.
out=$(cargo deb --no-build --locked --profile "$PROFILE" --output target/debian/ 2>&1) \
  || { echo "$out" >&2; exit 1; }
echo "$out" | tail -1
