# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# What this collection adds to kubernetes.core's connection options
# (kubernetes.core.k8s_auth_options): the time budget of a request and the rules of
# plugins/module_utils/kube.py. Keep it in step with kube.K8S_AUTH_ARG_SPEC.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  request_timeout:
    description:
      - Seconds one API request may take, from connecting to the last byte of the answer
        (above 0, at most 3600). Loading the kubeconfig (including exec credential plugins)
        and the client's API discovery are bounded by it too.
      - Answers HTTP 429 (and 5xx to reads and reviews) are retried with exponential backoff and
        jitter, honouring C(Retry-After), within the module's time budget.
    type: float
    default: 30
notes:
  - The connection options are those of M(kubernetes.core.k8s) (same names, aliases and
    E(K8S_AUTH_*) environment variables); the client is kubernetes.core's.
  - The API server URL (O(host), E(K8S_AUTH_HOST) or the kubeconfig cluster's server) must be
    C(https://) (a host without a scheme means C(https://)); C(http://) is accepted only for a
    loopback host (C(localhost), C(127.0.0.0/8), C(::1)). Anything else is an error naming the
    value, raised before any request, because the credentials would be sent unencrypted.
requirements:
  - kubernetes >= 24.2.0 (Python library)
"""
