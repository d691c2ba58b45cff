#!/usr/bin/env bash
# Generate (once) a GPG key to sign charts with and export the legacy
# keyrings helm needs: $STATE/keyring/secring.gpg (helm package --sign --keyring) and
# $STATE/keyring/pubring.gpg (helm pull/install --verify --keyring). Prints the key's name.
# A test key: no passphrase, 30 days; real releases sign with the release key (docs/releasing.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

name=${KUBIYA_SIGNING_NAME:-kubiya-runners test signing key}
umask 077
mkdir -p "$STATE/keyring"
if [[ ! -s $STATE/keyring/secring.gpg ]]; then
  # gpg-agent's sockets live in GNUPGHOME and a Unix socket path has at most 107 bytes: a
  # deep $STATE (pytest's tmp dirs under xdist) does not fit, so the key is made in a short
  # temporary home and only the exported keyrings are kept
  GNUPGHOME=$(mktemp -d /tmp/kr-gpg.XXXXXX)
  export GNUPGHOME
  trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$GNUPGHOME"' EXIT
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "$name <release@kubiya-runners.invalid>" rsa3072 sign 30d 2>/dev/null
  gpg --batch --quiet --export-secret-keys >"$STATE/keyring/secring.gpg.tmp"
  gpg --batch --quiet --export >"$STATE/keyring/pubring.gpg"
  mv "$STATE/keyring/secring.gpg.tmp" "$STATE/keyring/secring.gpg"
fi
echo "$name"
