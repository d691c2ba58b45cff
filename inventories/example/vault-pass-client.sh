#!/bin/sh
# Ansible Vault password client: prints a vault password from the environment, so that
# no password file lives next to the inventory. Ansible runs it as
#   <this script> --vault-id <label>
# for  --vault-id <label>@inventories/example/vault-pass-client.sh
# (and with label "default" for ANSIBLE_VAULT_PASSWORD_FILE=inventories/example/vault-pass-client.sh).
#
#   KUBIYA_VAULT_PASSWORD_<LABEL>  the password of vault id <label> (upper case, '-' and '.' as '_'),
#                                  e.g. KUBIYA_VAULT_PASSWORD_INITECH for --vault-id initech@...
#   KUBIYA_VAULT_PASSWORD          every other label: the inventory's shared password
#
# A file encrypted with --vault-id initech@... carries the label in its header
# ($ANSIBLE_VAULT;1.2;AES256;initech); Ansible tries the password of that label first.
label=default
while [ $# -gt 0 ]; do
  case "$1" in
    --vault-id) label="${2:-default}"; shift 2 || break ;;
    --vault-id=*) label="${1#--vault-id=}"; shift ;;
    *) shift ;;
  esac
done
var="KUBIYA_VAULT_PASSWORD_$(printf '%s' "$label" | tr '[:lower:].-' '[:upper:]__' | tr -cd 'A-Z0-9_')"
eval "password=\${$var:-}"
if [ -n "$password" ]; then
  printf '%s\n' "$password"
  exit 0
fi
if [ -z "${KUBIYA_VAULT_PASSWORD:-}" ]; then
  echo "vault-pass-client.sh: set $var (vault id '$label') or KUBIYA_VAULT_PASSWORD to the vault password" >&2
  exit 1
fi
printf '%s\n' "$KUBIYA_VAULT_PASSWORD"
