#!/usr/bin/env bash
# make release VERSION=x.y.z -- everything a release publishes, into dist/, from a clean tree.
#
# Refuses (before building anything): a dirty work tree; a VERSION that is not semver or not
# galaxy.yml's version; a git tag v<VERSION> that exists; an umbrella chart version that
# already exists in the registry (RELEASE_REGISTRY); changelog fragments that do not lint.
# Then: collection tarball (make build), galaxy-importer on it, CHANGELOG preview, the
# execution-environment build context (ansible-builder create), the image list (make images),
# every chart under charts/ packaged with provenance (helm package --sign) and, with
# RELEASE_REGISTRY, pushed there (helm push; a component/library version already there is
# kept), and dist/SHA256SUMS.
#
# Environment:
#   RELEASE_REGISTRY      host[:port]/project of the OCI chart registry (empty: package only)
#   RELEASE_REGISTRY_CA   CA file of that registry (helm --ca-file); log in first with
#                         `helm registry login` (HELM_REGISTRY_CONFIG is honoured)
#   RELEASE_SIGN_KEY      name of the GPG key that signs the chart (helm package --key)
#   RELEASE_SIGN_KEYRING  legacy secret keyring holding it (gpg --export-secret-keys)
#   RELEASE_UNSIGNED=1    allow an unsigned chart (local trials only; never for a push)
#   DIST                  output directory (default <repo>/dist)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD
version=${1:-}
dist=${DIST:-$repo/dist}
chart=charts/kubiya-runner
started=$SECONDS
log() { printf '[release] %s\n' "$*" >&2; }
die() { printf '[release] refused: %s\n' "$*" >&2; exit 1; }

[[ $version =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] \
  || die "VERSION '$version' is not semver x.y.z (make release VERSION=x.y.z)"

# --- refusals: nothing is built before these pass -----------------------------------------
dirty=$(git status --porcelain --untracked-files=normal)
[[ -z $dirty ]] || die "the work tree is not clean (commit or remove first):
$(head -20 <<<"$dirty")"
galaxy_version=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])' 2>/dev/null \
  || sed -n 's/^version: *//p' galaxy.yml)
[[ $galaxy_version == "$version" ]] \
  || die "VERSION $version is not galaxy.yml's version ($galaxy_version); bump galaxy.yml in the release pull request first"
if git rev-parse -q --verify "refs/tags/v$version" >/dev/null; then
  die "version $version exists: git tag v$version ($(git rev-parse --short "v$version"))"
fi
chart_name=$(sed -n 's/^name: *//p' $chart/Chart.yaml)
chart_version=$(sed -n 's/^version: *//p' $chart/Chart.yaml)
ca_args=()
[[ -n ${RELEASE_REGISTRY_CA:-} ]] && ca_args=(--ca-file "$RELEASE_REGISTRY_CA")
if [[ -n ${RELEASE_REGISTRY:-} ]]; then
  if out=$(helm show chart "oci://$RELEASE_REGISTRY/$chart_name" --version "$chart_version" "${ca_args[@]}" 2>&1); then
    die "chart $chart_name $chart_version exists in oci://$RELEASE_REGISTRY already; bump $chart/Chart.yaml's version"
  elif ! grep -qE ': not found|manifest unknown' <<<"$out"; then
    die "cannot ask oci://$RELEASE_REGISTRY whether $chart_name $chart_version exists: $(tail -1 <<<"$out")"
  fi
  [[ -n ${RELEASE_SIGN_KEY:-} ]] || die "RELEASE_REGISTRY is set but RELEASE_SIGN_KEY is not: pushed charts are signed"
fi
if [[ -z ${RELEASE_SIGN_KEY:-} && ${RELEASE_UNSIGNED:-} != 1 ]]; then
  die "RELEASE_SIGN_KEY/RELEASE_SIGN_KEYRING unset (sign the chart) -- RELEASE_UNSIGNED=1 for a local trial"
fi
grep -q "^## $chart_version" $chart/CHANGELOG.md \
  || die "$chart/CHANGELOG.md has no '## $chart_version' section for the chart version being released"
antsibull-changelog lint || die "changelog fragments do not lint (antsibull-changelog lint)"
# the changelog must say something about this version: fragments to release, or the release
# already recorded by `antsibull-changelog release` in the release pull request
if ! grep -qE "^  $version:" changelogs/changelog.yaml && ! ls changelogs/fragments/*.y*ml >/dev/null 2>&1; then
  die "changelogs/ has neither fragments nor a $version release: nothing would be in the release notes"
fi

# --- build --------------------------------------------------------------------------------
mkdir -p "$dist"
rm -rf "$dist/ee-context" "$dist/release"
step() { log "$1 ($((SECONDS - started)) s)"; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$tmp"

# charts first: packaging is quick, and a registry that holds other content under an
# existing version refuses the release before anything slow runs
step "chart packages"
mkdir -p "$dist/release"
sign=()
[[ -n ${RELEASE_SIGN_KEY:-} ]] && sign=(--sign --key "$RELEASE_SIGN_KEY" --keyring "${RELEASE_SIGN_KEYRING:?RELEASE_SIGN_KEYRING}")
tools/chart-deps.sh "$tmp/charts"
# every chart is an artifact of its own, in dependency order (library, components, umbrella).
# A component or library version already in the registry must hold exactly what was built
# here (then the registry's archive and provenance go into dist/release and it is not pushed
# again); other content under an existing version is refused: bump that chart's version. All
# of this is decided before the first push.
to_push=()
for c in kubiya-common agent-manager tool-manager kubiya-operator kubiya-runner; do
  helm package "$tmp/charts/$c" --destination "$dist/release" "${sign[@]}" >/dev/null
  v=$(sed -n 's/^version: *//p' "$tmp/charts/$c/Chart.yaml")
  [[ -n ${RELEASE_REGISTRY:-} ]] || continue
  if [[ $c != "$chart_name" ]]; then   # the umbrella's version was refused above if it exists
    if out=$(helm show chart "oci://$RELEASE_REGISTRY/$c" --version "$v" "${ca_args[@]}" 2>&1); then
      mkdir -p "$tmp/pulled/$c" "$tmp/cmp/$c/ours" "$tmp/cmp/$c/theirs"
      helm pull "oci://$RELEASE_REGISTRY/$c" --version "$v" --prov --destination "$tmp/pulled/$c" "${ca_args[@]}" >/dev/null 2>&1 \
        || die "chart $c $v is in oci://$RELEASE_REGISTRY but cannot be pulled to compare it"
      tar -xzf "$dist/release/$c-$v.tgz" -C "$tmp/cmp/$c/ours"
      tar -xzf "$tmp/pulled/$c/$c-$v.tgz" -C "$tmp/cmp/$c/theirs"
      diff -rq "$tmp/cmp/$c/ours" "$tmp/cmp/$c/theirs" >/dev/null \
        || die "chart $c $v is in oci://$RELEASE_REGISTRY with other content than charts/$c: bump charts/$c/Chart.yaml's version"
      cp "$tmp/pulled/$c/"* "$dist/release/"
      log "chart $c $v is in oci://$RELEASE_REGISTRY already, with the same content: not pushed again"
      continue
    elif ! grep -qE ': not found|manifest unknown' <<<"$out"; then
      die "cannot ask oci://$RELEASE_REGISTRY whether $c $v exists: $(tail -1 <<<"$out")"
    fi
  fi
  to_push+=("$c-$v")
done

step "collection tarball"
make --no-print-directory build DIST="$dist" >/dev/null
tarball=$dist/kubiya-runners-$version.tar.gz
[[ -f $tarball ]] || die "make build did not produce $tarball"

step "galaxy-importer"
make --no-print-directory galaxy-importer TARBALL="$tarball" IMPORTER_LOG="$dist/galaxy-importer.log" >/dev/null \
  || die "galaxy-importer found errors in $tarball: $dist/galaxy-importer.log"

step "changelog preview"
(cd "$tmp" && antsibull-changelog release --version "$version" >/dev/null && cp CHANGELOG.md "$dist/CHANGELOG-$version.md")

step "execution environment context"
ansible-builder create -f execution-environment.yml -c "$dist/ee-context" --output-filename Containerfile >/dev/null

step "image list"
make --no-print-directory images DIST="$dist" >/dev/null

for a in "${to_push[@]}"; do   # decided above, before anything was built
  step "chart push $a"
  helm push "$dist/release/$a.tgz" "oci://$RELEASE_REGISTRY" "${ca_args[@]}" 2>&1 | sed 's/^/[release]   /' >&2
done
archive=$dist/release/$chart_name-$chart_version.tgz
(cd "$dist" && sha256sum "kubiya-runners-$version.tar.gz" images.json images.txt "CHANGELOG-$version.md" \
  release/* >SHA256SUMS)
log "done in $((SECONDS - started)) s: $tarball, $archive${RELEASE_REGISTRY:+ (pushed to oci://$RELEASE_REGISTRY)}, $dist/ee-context, $dist/images.json"
