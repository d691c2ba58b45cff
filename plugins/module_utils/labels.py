# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes labels the chart sets and health, rbac and the role select by (one place)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

INSTANCE_LABEL = 'app.kubernetes.io/instance'
COMPONENT_LABEL = 'app.kubernetes.io/component'
NAME_LABEL = 'app.kubernetes.io/name'
