"""Dashboards and alert rules of kubiya.runners as code (monitoring-mixin layout).

``monitoring/dashboards/*.py`` build the Grafana dashboards with grafana-foundation-sdk,
``monitoring/alerts.py`` holds the alert rules (one definition, rendered to a Prometheus rule
file, its promtool unit tests and Grafana provisioning payloads). ``python -m
monitoring.generate`` writes the artefacts the grafana role ships into ``roles/grafana/files/``;
``--check`` fails when they are stale.
"""
