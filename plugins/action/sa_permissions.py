# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubiya.runners.sa_permissions: the permission matrix is a controller file.

``matrix`` given as a path is resolved like a ``src`` file (absolute, or the role's/playbook's
``files`` directory, then the playbook directory) and read here; not given, the collection's own
``charts/kubiya-runner/permissions.yaml`` (next to this plugin) is used. The matrix is checked
here, so a broken one fails naming its file before anything else, and passed to the module as a
dictionary; the result's ``matrix_path`` says which file it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.kubiya.runners.plugins.module_utils import rbac
from ansible_collections.kubiya.runners.plugins.module_utils.rbac import manifests

# plugins/action/ -> the collection's root
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_matrix_path(root=COLLECTION_ROOT):
    return os.path.join(root, manifests.MATRIX_IN_COLLECTION)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        value = args.get('matrix')
        path = ''
        if value is None or isinstance(value, str):
            try:
                path = self.resolve(value)
                data, path = manifests.matrix_document(path)
                rbac.load_matrix(data, where=path)
            except (manifests.InputError, rbac.MatrixError) as exc:
                result.update(failed=True, msg=to_text(exc), matrix_path=path)
                return result
            args['matrix'] = data
        result.update(self._execute_module(module_name='kubiya.runners.sa_permissions', module_args=args,
                                           task_vars=task_vars))
        if 'matrix_path' in result or not result.get('failed'):
            result['matrix_path'] = path
        return result

    def resolve(self, value):
        """The controller path of the matrix (InputError naming ``value`` when it is not found)."""
        if value is None:
            path = default_matrix_path()
            if not os.path.isfile(path):
                raise manifests.InputError('matrix: not given, and the collection has no %s (%s)'
                                           % (manifests.MATRIX_IN_COLLECTION, path))
            return path
        if not value:
            raise manifests.InputError('matrix: an empty path was given')
        try:
            return self._find_needle('files', os.path.expanduser(value))
        except AnsibleError as exc:
            raise manifests.InputError('matrix: %s was not found on the controller: %s' % (value, to_text(exc)))
