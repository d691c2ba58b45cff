{{/* Templates of the umbrella chart only; shared ones live in charts/kubiya-common. */}}

{{/* API group of each kube-state-metrics collector (the Role is derived from the list). */}}
{{- define "kubiya-runner.ksmRules" -}}
{{- $groups := dict "pods" "" "services" "" "persistentvolumeclaims" "" "configmaps" "" "deployments" "apps" "statefulsets" "apps" "replicasets" "apps" "jobs" "batch" "cronjobs" "batch" -}}
{{- $rules := list -}}
{{- range .Values.kubeStateMetrics.collectors -}}
{{- $rules = append $rules (dict "apiGroups" (list (get $groups .)) "resources" (list .) "verbs" (list "list" "watch")) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* Name of the Secret holding the remote-write OAuth2 client secret. */}}
{{- define "kubiya-runner.remoteWriteSecretName" -}}
{{- .Values.telemetry.remoteWrite.oauth2.existingSecret | default (printf "%s-remote-write" .Release.Name) -}}
{{- end -}}

{{- define "kubiya-runner.remoteWriteSecretKey" -}}
{{- if .Values.telemetry.remoteWrite.oauth2.existingSecret -}}
{{- .Values.telemetry.remoteWrite.oauth2.existingSecretKey -}}
{{- else -}}
client-secret
{{- end -}}
{{- end -}}

{{/*
Components Alloy scrapes for /metrics, as "<component>;<container port name>".
Blackbox probes: name (= component), module, address.
*/}}
{{- define "kubiya-runner.scrapeTargets" -}}
{{- $t := list "agent-manager;http" "tool-manager;http" -}}
{{- join "|" $t -}}
{{- end -}}

{{- define "kubiya-runner.probes" -}}
{{- $ns := .Release.Namespace -}}
{{- $p := list
  (dict "name" "agent-manager" "module" "http_2xx" "address" (printf "http://agent-manager.%s.svc:80/healthz" $ns))
  (dict "name" "tool-manager" "module" "http_2xx" "address" (printf "http://tool-manager.%s.svc:80/health" $ns))
  (dict "name" "dagger" "module" "tcp_connect" "address" (printf "dagger-engine-service.%s.svc:8080" (include "kubiya.daggerNamespace" .)))
-}}
{{- if .Values.workflowEngine.enabled -}}
{{- $p = append $p (dict "name" "workflow-engine" "module" "http_2xx" "address" (printf "http://workflow-engine.%s.svc:%v%s" $ns .Values.workflowEngine.service.port .Values.workflowEngine.readinessProbe.path)) -}}
{{- end -}}
{{- toYaml $p -}}
{{- end -}}

{{/*
Checks of the hardened profile, run once by templates/checks.yaml (renders nothing):
a release namespace that enforces Pod Security "restricted" or "baseline" cannot run the
privileged dagger engine, so dagger must have a namespace of its own.
*/}}
{{- define "kubiya-runner.checks" -}}
{{- $enforce := .Values.global.podSecurity.enforce | default "" -}}
{{- $dagger := .Values.global.daggerNamespace | default "" -}}
{{- if and (has $enforce (list "restricted" "baseline")) (or (not $dagger) (eq $dagger .Release.Namespace)) -}}
{{- fail (printf "global.podSecurity.enforce is %q but dagger runs privileged: set global.daggerNamespace to a namespace of its own (labelled pod-security.kubernetes.io/enforce=privileged), not the release namespace %s" $enforce .Release.Namespace) -}}
{{- end -}}
{{- end -}}
