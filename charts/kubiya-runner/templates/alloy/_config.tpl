{{/*
Alloy configuration, rendered from values. Pipeline:
  discovery (pods of this release, release namespace only)
    -> scrape runner components, kube-state-metrics, Alloy itself, blackbox probes
    -> prometheus.relabel "runner" (organization, runner, namespace; drop unused labels)
    -> prometheus.remote_write (OAuth2 client credentials)
*/}}
{{- define "kubiya-runner.podLabelRules" -}}
rule {
  source_labels = ["__meta_kubernetes_pod_phase"]
  regex         = "Running"
  action        = "keep"
}
rule {
  source_labels = ["__meta_kubernetes_namespace"]
  target_label  = "namespace"
}
rule {
  source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
  target_label  = "component"
}
rule {
  source_labels = ["__meta_kubernetes_pod_name"]
  target_label  = "pod"
}
rule {
  source_labels = ["__meta_kubernetes_pod_container_name"]
  target_label  = "container"
}
{{- end -}}

{{- define "kubiya-runner.alloyConfig" -}}
{{- $t := .Values.telemetry -}}
{{- $rw := $t.remoteWrite -}}
{{- $ns := .Release.Namespace -}}
{{- $scrape := printf "scrape_interval = %q\n  scrape_timeout  = %q" $t.scrapeInterval $t.scrapeTimeout -}}
// Rendered by the kubiya-runner Helm chart from its values. Do not edit in the cluster.
logging {
  level  = {{ .Values.alloy.logLevel | quote }}
  format = "json"
}

// ---- discovery: pods of this release, in the release namespace only -------------------
discovery.kubernetes "pods" {
  role = "pod"
  namespaces {
    names = [{{ $ns | quote }}]
  }
  selectors {
    role  = "pod"
    label = {{ printf "app.kubernetes.io/instance=%s" .Release.Name | quote }}
  }
}

// ---- runner components: /metrics on the named container port --------------------------
discovery.relabel "components" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_component", "__meta_kubernetes_pod_container_port_name"]
    separator     = ";"
    regex         = {{ include "kubiya-runner.scrapeTargets" . | quote }}
    action        = "keep"
  }
  {{- include "kubiya-runner.podLabelRules" . | nindent 2 }}
}

prometheus.scrape "components" {
  job_name        = "kubiya-runner"
  targets         = discovery.relabel.components.output
  metrics_path    = "/metrics"
  {{ $scrape }}
  forward_to      = [prometheus.relabel.runner.receiver]
}

// ---- kube-state-metrics: state of the objects of the namespace -------------------------
discovery.relabel "kube_state_metrics" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_component", "__meta_kubernetes_pod_container_port_name"]
    separator     = ";"
    regex         = "kube-state-metrics;http-metrics"
    action        = "keep"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Running"
    action        = "keep"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
}

prometheus.scrape "kube_state_metrics" {
  job_name        = "kube-state-metrics"
  targets         = discovery.relabel.kube_state_metrics.output
  // keep namespace/pod/container of the objects the series describe
  honor_labels    = true
  {{ $scrape }}
  forward_to      = [prometheus.relabel.kube_state_metrics.receiver]
}

// component = the runner component owning the object (deployment, statefulset, cronjob, job, pod)
prometheus.relabel "kube_state_metrics" {
  forward_to = [prometheus.relabel.runner.receiver]
  rule {
    source_labels = ["deployment", "statefulset", "cronjob", "job_name", "pod"]
    separator     = ";"
    regex         = "(?:.*;)?(agent-manager|tool-manager|kubiya-operator|workflow-engine|dagger|image-updater|kube-state-metrics|alloy)(?:-[^;]*)?(?:;.*)?"
    target_label  = "component"
    replacement   = "$1"
  }
}

// ---- Alloy itself ---------------------------------------------------------------------
prometheus.exporter.self "alloy" { }

discovery.relabel "alloy" {
  targets = prometheus.exporter.self.alloy.targets
  rule {
    target_label = "component"
    replacement  = "alloy"
  }
  rule {
    target_label = "pod"
    replacement  = sys.env("POD_NAME")
  }
  rule {
    target_label = "container"
    replacement  = "alloy"
  }
  rule {
    target_label = "namespace"
    replacement  = {{ $ns | quote }}
  }
}

prometheus.scrape "alloy" {
  job_name        = "alloy"
  targets         = discovery.relabel.alloy.output
  {{ $scrape }}
  forward_to      = [prometheus.relabel.alloy.receiver]
}

// Alloy exports hundreds of series; keep what the Alloy dashboard and the checks read.
prometheus.relabel "alloy" {
  forward_to = [prometheus.relabel.runner.receiver]
  rule {
    source_labels = ["__name__"]
    regex         = "up|scrape_.+|alloy_build_info|alloy_component_controller_running_components|alloy_component_evaluation_seconds_.+|prometheus_remote_storage_.+|prometheus_remote_write_.+|prometheus_target_.+|process_cpu_seconds_total|process_resident_memory_bytes|go_goroutines"
    action        = "keep"
  }
}

// ---- blackbox probes: health endpoints (HTTP) and dagger (TCP) --------------------------
prometheus.exporter.blackbox "probes" {
  config = {{ dict "modules" (dict "http_2xx" (dict "prober" "http" "timeout" $t.probeTimeout "http" (dict "preferred_ip_protocol" "ip4" "valid_status_codes" (list 200))) "tcp_connect" (dict "prober" "tcp" "timeout" $t.probeTimeout "tcp" (dict "preferred_ip_protocol" "ip4"))) | toJson | quote }}
{{- range (include "kubiya-runner.probes" . | fromYamlArray) }}
  target {
    name    = {{ .name | quote }}
    address = {{ .address | quote }}
    module  = {{ .module | quote }}
  }
{{- end }}
}

discovery.relabel "probes" {
  targets = prometheus.exporter.blackbox.probes.targets
  // the target name is the probed component
  rule {
    source_labels = ["job"]
    regex         = "integrations/blackbox/(.+)"
    target_label  = "component"
  }
  rule {
    target_label = "job"
    replacement  = "blackbox"
  }
  rule {
    target_label = "namespace"
    replacement  = {{ $ns | quote }}
  }
}

prometheus.scrape "probes" {
  job_name        = "blackbox"
  targets         = discovery.relabel.probes.output
  {{ $scrape }}
  forward_to      = [prometheus.relabel.runner.receiver]
}

// ---- runner metadata on every series, unused labels dropped ---------------------------
prometheus.relabel "runner" {
  forward_to = [prometheus.remote_write.default.receiver]
  rule {
    target_label = "organization"
    replacement  = {{ include "kubiya.organization" . | quote }}
  }
  rule {
    target_label = "runner"
    replacement  = {{ include "kubiya.runnerName" . | quote }}
  }
  rule {
    target_label = "namespace"
    replacement  = {{ $ns | quote }}
  }
  {{- with $t.dropLabels }}
  rule {
    regex  = {{ join "|" . | quote }}
    action = "labeldrop"
  }
  {{- end }}
}

// ---- remote write ----------------------------------------------------------------------
prometheus.remote_write "default" {
  endpoint {
    url = {{ required "telemetry.remoteWrite.url is required when telemetry.enabled" $rw.url | quote }}
    {{- if $rw.oauth2.enabled }}
    oauth2 {
      client_id          = {{ required "telemetry.remoteWrite.oauth2.clientId is required when telemetry.remoteWrite.oauth2.enabled" $rw.oauth2.clientId | quote }}
      client_secret_file = "/var/run/secrets/kubiya/remote-write/client-secret"
      token_url          = {{ required "telemetry.remoteWrite.oauth2.tokenUrl is required when telemetry.remoteWrite.oauth2.enabled" $rw.oauth2.tokenUrl | quote }}
      scopes             = [{{ range $i, $s := $rw.oauth2.scopes }}{{ if $i }}, {{ end }}{{ $s | quote }}{{ end }}]
      {{- if $rw.insecureSkipVerify }}
      tls_config {
        insecure_skip_verify = true
      }
      {{- end }}
    }
    {{- end }}
    {{- if $rw.insecureSkipVerify }}
    tls_config {
      insecure_skip_verify = true
    }
    {{- end }}
  }
}
{{- end -}}
