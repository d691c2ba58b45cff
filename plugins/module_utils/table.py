# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixed-width tables the modules print (runner_health, sa_permissions, metrics_delivery)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def render(header, rows, rule=True, free_last=False):
    """Lines of a table: columns padded to their widest cell, two spaces apart, trailing blanks
    cut. ``rule``: a line of dashes under the header. ``free_last``: the last column (a free-text
    detail) is not padded and does not widen the table."""
    rows = [tuple('' if cell is None else str(cell) for cell in row) for row in [header] + list(rows)]
    padded = len(header) - 1 if free_last else len(header)
    widths = [max(len(row[i]) for row in rows) for i in range(padded)]

    def line(row):
        text = '  '.join(cell.ljust(width) for cell, width in zip(row[:padded], widths))
        if free_last:
            text += '  ' + row[-1]
        return text.rstrip()

    lines = [line(row) for row in rows]
    if rule:
        lines.insert(1, '  '.join('-' * w for w in widths))
    return lines
