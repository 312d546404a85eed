#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack builds dist/), the tarball's contents checked, the
# tarball installed into an empty project, every subpath in package.json `exports` imported, a smoke script
# run (a wall, a dependency, a call), the modules loaded by importing only `retry` listed and checked, and
# the smoke script type-checked under `strict` with `skipLibCheck: false`.
# Usage: bash scripts/pack-smoke.sh   (from anywhere; needs the npm registry or a warm npm cache)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/blastwall-pack-XXXXXX")"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== pack-smoke: %s\n' "$*"; }

step "npm pack"
cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n1)"
tar -tzf "$work/$tarball" | sed 's#^package/##' | sort > "$work/files.txt"
echo "$tarball: $(wc -l < "$work/files.txt") files"
node "$root/scripts/pack-smoke/check-files.mjs" "$work/files.txt" "$root/package.json"

step "install the tarball into an empty project"
app="$work/app"
mkdir -p "$app"
cp "$root/scripts/pack-smoke/smoke.ts" "$root/scripts/pack-smoke/retry-only.mjs" "$root/scripts/pack-smoke/import-all.mjs" "$root/scripts/pack-smoke/tsconfig.json" "$app/"
cd "$app"
printf '{ "name": "blastwall-smoke", "private": true, "type": "module" }\n' > package.json
# the peers written in JavaScript (so every subpath can load) and the compiler, at the versions the repository
# tests with; not the SQLite driver: a user who does not use SQLite never installs it, and the imports, the
# smoke script and its type check must work without it
version() { node -p "require('$root/node_modules/$1/package.json').version"; }
peers="$(node -p "Object.keys(require('$root/package.json').peerDependencies ?? {}).filter((p) => p !== 'better-sqlite3').join(' ')")"
deps=()
for p in $peers typescript @types/node; do deps+=("$p@$(version "$p")"); done
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$work/$tarball" "${deps[@]}"

step "import every subpath"
node import-all.mjs

step "importing only retry loads no native addon and no telemetry SDK"
node retry-only.mjs

step "type-check the smoke script (strict, skipLibCheck: false)"
npx tsc -p tsconfig.json

step "run the smoke script"
node smoke.js
echo "pack-smoke: ok"
