# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs of sa_permissions as YAML: the permission matrix (a path or a dict) and the rendered
manifests of offline mode (a file, a directory, YAML text, or a list of dicts/texts).

Errors are ``InputError`` naming the input; callers (the module, the action plugin) turn them
into a failed result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

MANIFEST_SUFFIXES = ('.yaml', '.yml', '.json')
# where the matrix lives inside the collection (the action plugin's default)
MATRIX_IN_COLLECTION = os.path.join('charts', 'kubiya-runner', 'permissions.yaml')


class InputError(ValueError):
    """A matrix or manifest input cannot be read; the message names it."""


def parse_yaml_text(text, what):
    """The non-empty YAML documents of ``text``."""
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError('%s is not valid YAML: %s' % (what, exc))


def read_yaml_file(path, what):
    """The non-empty YAML documents of the file ``path``."""
    try:
        with open(path) as handle:
            return [d for d in yaml.safe_load_all(handle) if d is not None]
    except (OSError, IOError) as exc:
        raise InputError('cannot read %s %s: %s' % (what, path, exc))
    except yaml.YAMLError as exc:
        raise InputError('%s %s is not valid YAML: %s' % (what, path, exc))


def matrix_document(value):
    """``(data, path)`` of the ``matrix`` input: a dict as it is, or the one YAML document of a file."""
    if isinstance(value, dict):
        return value, ''
    if not isinstance(value, str):
        raise InputError('matrix must be a path or a dictionary, got %s' % type(value).__name__)
    if not os.path.isfile(value):
        raise InputError('matrix: %s does not exist' % value)
    docs = read_yaml_file(value, 'matrix')
    if len(docs) != 1:
        raise InputError('matrix: %s must hold exactly one YAML document' % value)
    return docs[0], value


def manifest_files(path):
    """``path`` itself, or the YAML/JSON files under the directory ``path`` in a stable order."""
    if os.path.isfile(path):
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(MANIFEST_SUFFIXES):
                found.append(os.path.join(dirpath, name))
    return found


def load_manifests(value):
    """The documents of the ``manifests`` input (a path, YAML text, a dict or a list of dicts/texts)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        docs = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                docs.append(item)
            elif isinstance(item, str):
                docs.extend(parse_yaml_text(item, 'manifests[%d]' % i))
            elif item is not None:
                raise InputError('manifests[%d] must be a dictionary or YAML text' % i)
        return docs
    if isinstance(value, str):
        if '\n' not in value and os.path.exists(value):
            docs = []
            for path in manifest_files(value):
                docs.extend(read_yaml_file(path, 'manifest'))
            return docs
        if '\n' in value or value.lstrip().startswith(('apiVersion', 'kind', '---', '{')):
            return parse_yaml_text(value, 'manifests')
        raise InputError('manifests: %s does not exist' % value)
    raise InputError('manifests must be a path, YAML text or a list of documents')
