#!/usr/bin/env bash
# Builds the .deb: the release binary, the man pages and shell completions it generates
# (into target/assets/), then cargo-deb with the metadata in Cargo.toml
# ([package.metadata.deb]). Prints the path of the .deb on its last line.
#   bash packaging/deb/build.sh        (needs: cargo install cargo-deb --locked)
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }
cargo build --release --locked --bin clawvisor
bin=target/release/clawvisor
assets=target/assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/clawvisor.bash"
"$bin" completions zsh >"$assets/completions/_clawvisor"
"$bin" completions fish >"$assets/completions/clawvisor.fish"
cargo deb --no-build --locked --output target/debian/ | tail -1
