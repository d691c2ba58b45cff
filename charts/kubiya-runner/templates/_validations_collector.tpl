{{/*
The collector the alloy Deployment runs: telemetry.collector (alloy | prometheus-agent). The
deprecated alloy.collector (one release; "" = not set) wins when set. Fails naming the key for
any other value -- values.schema.json refuses it first, this holds with --skip-schema-validation too.
*/}}
{{- define "kubiya-runner.collector" -}}
{{- $old := .Values.alloy.collector | default "" -}}
{{- $key := ternary "alloy.collector (deprecated: use telemetry.collector)" "telemetry.collector" (ne $old "") -}}
{{- $collector := $old | default .Values.telemetry.collector | default "" -}}
{{- if not (has $collector (list "alloy" "prometheus-agent")) -}}
{{- fail (printf "%s is %q: the chart knows the collectors \"alloy\" (Grafana Alloy) and \"prometheus-agent\" (Prometheus agent mode)" $key $collector) -}}
{{- end -}}
{{- $collector -}}
{{- end -}}

{{/* Checks of the collector choice; renders nothing (included by checks.yaml). */}}
{{- define "kubiya-runner.validateCollector" -}}
{{- if .Values.telemetry.enabled -}}
{{- $_ := include "kubiya-runner.collector" . -}}
{{- end -}}
{{- end -}}
