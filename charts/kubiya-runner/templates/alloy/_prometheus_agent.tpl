{{/*
Prometheus agent-mode configuration (telemetry.collector=prometheus-agent), rendered from the
same values as the Alloy configuration (_config.tpl) and kept equivalent to it:
  same discovery (pods of this release, release namespace only, in-cluster API access with
  the alloy ServiceAccount), same targets (runner components' named ports,
  kube-state-metrics, the collector itself), same labels (organization, runner, namespace,
  component, pod, container; dropLabels removed), same OAuth2 remote write.
Differences: no blackbox probes (Alloy's embedded prometheus.exporter.blackbox has no
counterpart in Prometheus); the collector's self metrics are Prometheus' (prometheus_*),
scraped from its pod address; metric_relabel_configs do not touch the synthetic series
(up, scrape_*), so runner labels are target labels here.
*/}}
{{- define "kubiya-runner.prometheusAgentSD" -}}
- role: pod
  namespaces:
    names: [{{ .Release.Namespace | toJson }}]
  selectors:
    - role: pod
      label: {{ printf "app.kubernetes.io/instance=%s" .Release.Name | toJson }}
{{- end -}}

{{/* runner metadata as target labels: on every series, synthetic ones included */}}
{{- define "kubiya-runner.prometheusAgentRunnerRules" -}}
- target_label: organization
  replacement: {{ include "kubiya.organization" . | toJson }}
- target_label: runner
  replacement: {{ include "kubiya.runnerName" . | toJson }}
- target_label: namespace
  replacement: {{ .Release.Namespace | toJson }}
{{- end -}}

{{- define "kubiya-runner.prometheusAgentPodRules" -}}
- source_labels: [__meta_kubernetes_pod_phase]
  regex: Running
  action: keep
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
  target_label: component
- source_labels: [__meta_kubernetes_pod_name]
  target_label: pod
- source_labels: [__meta_kubernetes_pod_container_name]
  target_label: container
{{- end -}}

{{- define "kubiya-runner.prometheusAgentDropRules" -}}
{{- with .Values.telemetry.dropLabels -}}
- regex: {{ join "|" . | toJson }}
  action: labeldrop
{{- end -}}
{{- end -}}

{{- define "kubiya-runner.prometheusAgentKeep" -}}
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component, __meta_kubernetes_pod_container_port_name]
  separator: ";"
  regex: {{ . | toJson }}
  action: keep
{{- end -}}

{{- define "kubiya-runner.prometheusAgentConfig" -}}
{{- $t := .Values.telemetry -}}
{{- $rw := $t.remoteWrite -}}
# Rendered by the kubiya-runner Helm chart from its values (Prometheus agent mode). Do not edit in the cluster.
global:
  scrape_interval: {{ $t.scrapeInterval }}
  scrape_timeout: {{ $t.scrapeTimeout }}
scrape_configs:
  # ---- runner components: /metrics on the named container port
  - job_name: kubiya-runner
    metrics_path: /metrics
    kubernetes_sd_configs:
      {{- include "kubiya-runner.prometheusAgentSD" . | nindent 6 }}
    relabel_configs:
      {{- include "kubiya-runner.prometheusAgentKeep" (include "kubiya-runner.scrapeTargets" .) | nindent 6 }}
      {{- include "kubiya-runner.prometheusAgentPodRules" . | nindent 6 }}
      {{- include "kubiya-runner.prometheusAgentRunnerRules" . | nindent 6 }}
    metric_relabel_configs:
      {{- include "kubiya-runner.prometheusAgentDropRules" . | nindent 6 }}
  # ---- kube-state-metrics: state of the objects of the namespace
  - job_name: kube-state-metrics
    # keep namespace/pod/container of the objects the series describe
    honor_labels: true
    kubernetes_sd_configs:
      {{- include "kubiya-runner.prometheusAgentSD" . | nindent 6 }}
    relabel_configs:
      {{- include "kubiya-runner.prometheusAgentKeep" "kube-state-metrics;http-metrics" | nindent 6 }}
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      {{- include "kubiya-runner.prometheusAgentRunnerRules" . | nindent 6 }}
    metric_relabel_configs:
      # component = the runner component owning the object (deployment, statefulset, cronjob, job, pod)
      - source_labels: [deployment, statefulset, cronjob, job_name, pod]
        separator: ";"
        regex: "(?:.*;)?(agent-manager|tool-manager|kubiya-operator|workflow-engine|dagger|image-updater|kube-state-metrics|alloy)(?:-[^;]*)?(?:;.*)?"
        target_label: component
        replacement: "$1"
      {{- include "kubiya-runner.prometheusAgentDropRules" . | nindent 6 }}
  # ---- the collector itself (job "alloy" = the collector Deployment, whatever runs in it)
  - job_name: alloy
    kubernetes_sd_configs:
      {{- include "kubiya-runner.prometheusAgentSD" . | nindent 6 }}
    relabel_configs:
      {{- include "kubiya-runner.prometheusAgentKeep" "alloy;http" | nindent 6 }}
      {{- include "kubiya-runner.prometheusAgentPodRules" . | nindent 6 }}
      {{- include "kubiya-runner.prometheusAgentRunnerRules" . | nindent 6 }}
    metric_relabel_configs:
      # keep what the dashboards and the checks read
      - source_labels: [__name__]
        regex: "prometheus_build_info|prometheus_remote_storage_.+|prometheus_target_scrape_pool_targets|prometheus_sd_discovered_targets|prometheus_agent_.+|process_cpu_seconds_total|process_resident_memory_bytes|go_goroutines"
        action: keep
      {{- include "kubiya-runner.prometheusAgentDropRules" . | nindent 6 }}
remote_write:
  - url: {{ required "telemetry.remoteWrite.url is required when telemetry.enabled" $rw.url | toJson }}
    {{- if $rw.oauth2.enabled }}
    oauth2:
      client_id: {{ required "telemetry.remoteWrite.oauth2.clientId is required when telemetry.remoteWrite.oauth2.enabled" $rw.oauth2.clientId | toJson }}
      client_secret_file: /var/run/secrets/kubiya/remote-write/client-secret
      token_url: {{ required "telemetry.remoteWrite.oauth2.tokenUrl is required when telemetry.remoteWrite.oauth2.enabled" $rw.oauth2.tokenUrl | toJson }}
      scopes: {{ $rw.oauth2.scopes | toJson }}
      {{- if $rw.insecureSkipVerify }}
      tls_config:
        insecure_skip_verify: true
      {{- end }}
    {{- end }}
    {{- if $rw.insecureSkipVerify }}
    tls_config:
      insecure_skip_verify: true
    {{- end }}
{{- end -}}
