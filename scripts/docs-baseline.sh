#!/usr/bin/env bash
# Rewrites scripts/docs-undocumented.txt as the public exports that have no doc comment today. Run it only to
# take names OUT of the list (after documenting them) or when exports moved between entry points: a name
# that appears in the new list and not in the old one is a new undocumented export, and should get a doc
# comment instead. Prints the names added and removed.
set -euo pipefail
cd "$(dirname "$0")/.."
list=scripts/docs-undocumented.txt
old="$(mktemp)"; out="$(mktemp)"
trap 'rm -f "$old" "$out"' EXIT
grep -v '^#' "$list" | sort -u > "$old" || true
printf '' > "$list.tmp"
mv "$list" "$list.bak"
npx typedoc --emit none > "$out" 2>&1 || true
mv "$list.bak" "$list"
rm -f "$list.tmp"
{
  echo "# Public exports without a doc comment (a shrinking baseline for npm run docs:check)."
  echo "# Only ever remove lines: document the export, delete its line. New exports must be documented."
  sed 's/\x1b\[[0-9;]*m//g' "$out" | grep 'does not have any documentation' | sed -E 's/^\[warning\] (.*) \((\w+)\), defined in .*/\1/' | sort -u
} > "$list.new"
echo "added:";   comm -13 "$old" <(grep -v '^#' "$list.new") | sed 's/^/  /'
echo "removed:"; comm -23 "$old" <(grep -v '^#' "$list.new") | sed 's/^/  /'
mv "$list.new" "$list"
echo "$(grep -vc '^#' "$list") names in $list"
