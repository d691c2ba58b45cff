#!/bin/sh
# Ansible Vault password client: prints the vault password from the environment
# (KUBIYA_VAULT_PASSWORD), so that no password file lives next to the inventory.
#   ansible-playbook --vault-id example@inventories/example/vault-pass-client.sh ...
# or  export ANSIBLE_VAULT_PASSWORD_FILE=inventories/example/vault-pass-client.sh
# Ansible calls it with `--vault-id <label>`; the label is ignored.
if [ -z "${KUBIYA_VAULT_PASSWORD:-}" ]; then
  echo "vault-pass-client.sh: set KUBIYA_VAULT_PASSWORD to the vault password" >&2
  exit 1
fi
printf '%s\n' "$KUBIYA_VAULT_PASSWORD"
