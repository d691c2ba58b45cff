"""Local central side for tests: Prometheus + OAuth2 token endpoint + authenticating front.

Started and stopped by ``up.sh`` / ``down.sh`` in this directory; see README.md.
"""
