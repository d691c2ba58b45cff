# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Connection and authentication options of the modules that query a Prometheus
# HTTP API (plugins/module_utils/prometheus.py PROMETHEUS_ARGUMENT_SPEC).

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Prometheus HTTP API, without C(/api/v1).
      - For an Azure Monitor workspace this is its query endpoint, for example
        V(https://my-workspace-abcd.westeurope.prometheus.monitor.azure.com).
      - Must be C(https://) (C(http://) only with O(allow_http=true)); any other scheme
        (C(file:), C(data:), C(ftp:), ...) and URLs with C(user:password@) are refused
        before anything is sent.
      - Redirects are not followed; a 3xx answer fails naming the host it points to.
    type: str
    required: true
    aliases: [prometheus_url]
  auth_type:
    description:
      - How to authenticate to O(url).
      - V(none) sends no credentials.
      - V(basic) sends O(username) and O(password).
      - V(bearer) sends the static O(bearer_token).
      - V(oauth2) gets a token from O(token_url) with the OAuth2 client credentials grant
        (O(client_id), O(client_secret), optional O(scope)).
      - V(azure) does the same against Microsoft Entra ID,
        C(<authority_url>/<tenant_id>/oauth2/v2.0/token), with scope
        C(https://prometheus.monitor.azure.com/.default) unless O(scope) is given.
        The app needs the C(Monitoring Data Reader) role on the Azure Monitor workspace.
    type: str
    default: none
    choices: [none, basic, bearer, oauth2, azure]
  username:
    description:
      - User name for O(auth_type=basic).
    type: str
  password:
    description:
      - Password for O(auth_type=basic).
    type: str
  bearer_token:
    description:
      - Token for O(auth_type=bearer), sent in the C(Authorization) header as C(Bearer <token>).
    type: str
  client_id:
    description:
      - OAuth2 client ID (Entra application ID) for O(auth_type=oauth2) and O(auth_type=azure).
    type: str
  client_secret:
    description:
      - OAuth2 client secret for O(auth_type=oauth2) and O(auth_type=azure).
      - Sent in the token request body (C(client_secret_post)). Keep it in Ansible Vault.
    type: str
  token_url:
    description:
      - Token endpoint for O(auth_type=oauth2).
      - With O(auth_type=azure) it replaces the URL built from O(authority_url) and O(tenant_id).
      - Must be C(https://) (C(http://) only with O(allow_http=true)); redirects are not followed,
        so the client secret is only ever posted to this URL.
    type: str
  tenant_id:
    description:
      - Microsoft Entra tenant (directory) ID for O(auth_type=azure), a GUID or a domain name.
    type: str
  authority_url:
    description:
      - Microsoft Entra authority for O(auth_type=azure). Change it for sovereign clouds
        (for example V(https://login.microsoftonline.us)) or to point at a test token endpoint.
      - Must be C(https://) (C(http://) only with O(allow_http=true)).
    type: str
    default: https://login.microsoftonline.com
  scope:
    description:
      - Scope requested with the token (space separated if several).
      - Defaults to V(https://prometheus.monitor.azure.com/.default) with O(auth_type=azure);
        not sent with O(auth_type=oauth2) unless given.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of O(url).
      - It does not apply to the token endpoint, see O(token_validate_certs). Turning it off for
        a self-signed Prometheus never sends the client secret over unverified TLS.
    type: bool
    default: true
  ca_path:
    description:
      - File with the CA certificates to trust for O(url), instead of the system's.
      - It does not apply to the token endpoint, see O(token_ca_path).
    type: path
  token_validate_certs:
    description:
      - Verify the TLS certificate of the token endpoint (O(token_url), or the Entra authority
        O(authority_url)) for O(auth_type=oauth2) and O(auth_type=azure).
      - Independent of O(validate_certs).
    type: bool
    default: true
  token_ca_path:
    description:
      - File with the CA certificates to trust for the token endpoint, instead of the system's.
      - Independent of O(ca_path).
    type: path
  allow_http:
    description:
      - Allow C(http://) for O(url), O(token_url) and O(authority_url), and only to a loopback
        host (C(localhost), C(127.0.0.0/8) or C(::1)); C(http://) to any other host is refused
        whatever its value.
      - Credentials, tokens and the client secret then travel unencrypted. This exists for
        loopback tests (a local Prometheus and token endpoint); never set it for a real endpoint.
      - Other schemes than C(https://) and C(http://) are refused whatever its value.
    type: bool
    default: false
  timeout:
    description:
      - Seconds one HTTP request (token or query) may take, from connecting to the last byte
        of the answer, before it is given up (above 0, at most 300).
    type: float
    default: 10
"""
