"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test fetches ``get-pip-<version>.py`` from ci-files.testing.ansible.com
to put pip into each sanity virtualenv; that host is not reachable from our
machines (only package registries are). ansible-test looks for a cached copy
first, at ``~/.ansible/test/cache/get_pip_<version>.py``, and runs it with
pip-install arguments. ``make sanity`` installs this file there. It does what
get-pip does, with Python's own ``ensurepip`` and then PyPI for the exact pip
version ansible-test asks for.
"""
import subprocess
import sys

# get-pip specific switches; this script never adds setuptools or wheel itself.
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *ARGS])
