# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Connection options of the modules that talk to the Kubernetes API server
# (plugins/module_utils/k8s_client.py K8S_AUTH_ARG_SPEC). Names and environment
# variables follow kubernetes.core's k8s_auth_options.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig as a dictionary.
      - Several files can be given separated by C(:), like the E(KUBECONFIG) variable.
      - When neither O(kubeconfig), O(context) nor O(host) with credentials is given, the in-cluster
        service account is tried first, then E(KUBECONFIG) or C(~/.kube/config).
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - Reading a kubeconfig needs the C(kubernetes) Python library.
    type: raw
  context:
    description:
      - Name of a context in the kubeconfig. Defaults to its current context.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the API server, for example V(https://10.0.0.1:6443).
      - With O(api_key) or O(client_cert) and O(client_key) no kubeconfig is read.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
      - Must be C(https://) (a host without a scheme means C(https://)); C(http://) is accepted
        only for a loopback host (C(localhost), C(127.0.0.0/8), C(::1)), any other scheme is an
        error naming the value, because the credentials would be sent unencrypted. The same holds
        for the server of the kubeconfig.
    type: str
  api_key:
    description:
      - Bearer token used to authenticate to the API server. It takes precedence over the
        credentials of the kubeconfig.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Defaults to the kubeconfig's setting, else V(true).
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to the CA certificate(s) that signed the API server's certificate (the full chain).
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate to authenticate with.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  request_timeout:
    description:
      - Seconds one API request may take, from connecting to the last byte of the answer
        (above 0, at most 3600).
      - Answers HTTP 429 (and 5xx to reads) are retried with exponential backoff and jitter,
        honouring C(Retry-After), for up to this many seconds more.
    type: float
    default: 30
notes:
  - The connection options use the names and E(K8S_AUTH_*) environment variables of
    M(kubernetes.core.k8s), so the same variables serve both collections.
  - Requests are sent with the Python standard library over one persistent connection; the
    C(kubernetes) library is used only to read kubeconfig files (including exec credential
    plugins) and the in-cluster configuration.
requirements:
  - kubernetes >= 12.0.0 (Python library), unless O(host) is given with O(api_key) or a client certificate
"""
