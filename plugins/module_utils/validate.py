# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of module options that Ansible's argument types do not make.

Ansible's ``float`` type happily converts ``nan``, ``inf`` and ``-1``; a
timeout of NaN never expires and a negative deadline makes no sense. Every
module of the collection runs its time and count options through
``number`` / ``check_numbers`` and its names through ``dns_label`` /
``helm_release`` before it does anything, and every error names the option.

Pure functions; they raise ``ValueError`` with a message that starts with the
option name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

# Times above a day are a typo (minutes or milliseconds given as seconds).
MAX_SECONDS = 86400.0
MAX_COUNT = 1000000

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_LABEL_MAX = 63
# Helm 3: release names are DNS-1123 subdomains of at most 53 characters
# (helm/pkg/chartutil ValidateReleaseName).
HELM_RELEASE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
HELM_RELEASE_MAX = 53


def number(value, option, maximum=MAX_SECONDS, allow_zero=False, integer=False, unit="seconds"):
    """``value`` as a float (or int), or ValueError naming ``option``.

    Rejects None, booleans, text that is not a number, NaN, +/-infinity,
    negatives, zero (unless ``allow_zero``) and values above ``maximum``.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("%s: %r is not a number" % (option, value))
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise ValueError("%s: %r is not a number" % (option, value))
    if math.isnan(num):
        raise ValueError("%s: NaN is not a valid value; give a number of %s" % (option, unit))
    if math.isinf(num):
        raise ValueError("%s: %s is not a valid value; give a finite number of %s"
                         % (option, "infinity" if num > 0 else "-infinity", unit))
    if num < 0:
        raise ValueError("%s: %s is negative; give a positive number of %s" % (option, value, unit))
    if num == 0 and not allow_zero:
        raise ValueError("%s: 0 is not a valid value; give a positive number of %s"
                         % (option, unit))
    if maximum is not None and num > maximum:
        raise ValueError("%s: %s is too large (at most %s %s)" % (
            option, value, int(maximum) if float(maximum).is_integer() else maximum, unit))
    if integer:
        if not num.is_integer():
            raise ValueError("%s: %s is not a whole number" % (option, value))
        return int(num)
    return num


def check_numbers(params, rules, prefix=""):
    """Run ``number`` on every option named in ``rules`` that is set.

    ``rules``: option name -> dict of ``number`` keyword arguments.
    Returns a dict of the converted values; raises on the first bad option.
    """
    out = {}
    for option in sorted(rules):
        value = params.get(option)
        if value is None:
            continue
        out[option] = number(value, prefix + option, **rules[option])
    return out


def _text(value):
    return value if isinstance(value, str) else repr(value)


def dns_label(value, option):
    """A Kubernetes namespace name (RFC 1123 label), or ValueError naming ``option``."""
    if not isinstance(value, str) or not value:
        raise ValueError("%s: %r is not a valid namespace name: it is empty" % (option, value))
    if len(value) > DNS1123_LABEL_MAX or not DNS1123_LABEL.match(value):
        raise ValueError("%s: %r is not a valid namespace name (DNS-1123 label: lowercase "
                         "letters, digits and '-', starting and ending with a letter or digit, "
                         "at most %d characters)" % (option, _text(value), DNS1123_LABEL_MAX))
    return value


def helm_release(value, option):
    """A Helm release name, or ValueError naming ``option``."""
    if not isinstance(value, str) or not value:
        raise ValueError("%s: %r is not a valid Helm release name: it is empty" % (option, value))
    if len(value) > HELM_RELEASE_MAX or not HELM_RELEASE.match(value):
        raise ValueError("%s: %r is not a valid Helm release name (lowercase letters, digits, "
                         "'-' and '.', starting and ending with a letter or digit, at most %d "
                         "characters)" % (option, _text(value), HELM_RELEASE_MAX))
    return value
