#!/usr/bin/env bash
# A change to what the collection ships (plugins/, roles/, charts/, playbooks/, meta/) must
# carry a changelog fragment (changelogs/fragments/*.yml, added or changed since BASE),
# and every fragment must pass `antsibull-changelog lint`.
#
#   tools/release/check-fragments.sh [BASE]     BASE: git ref to compare with (default: main)
#
# Compares the merge base of BASE and HEAD with HEAD plus the work tree (committed,
# staged and unstaged changes, new untracked files), like a pull request's diff.
# Exit 0: fine or nothing shipped changed; 1: fragment missing or invalid; 2: BASE unknown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base=${1:-main}
if ! mb=$(git merge-base "$base" HEAD 2>/dev/null); then
  echo "check-fragments: base ref '$base' not found (fetch it, or pass another: make changelog-check BASE=<ref>)" >&2
  exit 2
fi
changed=$( { git diff --name-only "$mb"; git ls-files --others --exclude-standard; } | sort -u)
shipped=$(grep -E '^(plugins|roles|charts|playbooks|meta)/' <<<"$changed" || true)
fragments=$(grep -E '^changelogs/fragments/[^/]+\.ya?ml$' <<<"$changed" || true)
antsibull-changelog lint
if [[ -n $shipped && -z $fragments ]]; then
  {
    echo "check-fragments: these shipped files changed since $base without a changelog fragment:"
    sed 's/^/  /' <<<"$shipped" | head -20
    echo "add changelogs/fragments/<issue>-<topic>.yml (sections: changelogs/config.yaml; trivial: for no user-visible change)"
  } >&2
  exit 1
fi
echo "check-fragments: ok ($(grep -c . <<<"$shipped" || true) shipped file(s) changed, fragments: ${fragments//$'\n'/ })"
