{{/* The headless dagger Service: same namespace (default layout) or the dagger namespace of the
   hardened profile (global.daggerNamespace), by its cluster DNS name. */}}
{{- define "tool-manager.daggerEngineUrl" -}}
{{- $ns := .Values.global.daggerNamespace | default "" -}}
{{- if and $ns (ne $ns .Release.Namespace) -}}
{{- printf "tcp://dagger-engine-service.%s.svc:8080" $ns -}}
{{- else -}}
tcp://dagger-engine-service:8080
{{- end -}}
{{- end -}}

{{/* Environment shared by the tool-manager and kubiya-sdk-server containers. */}}
{{- define "tool-manager.commonEnv" -}}
- name: KUBIYA_NATS_CREDS
  value: /etc/nats/nats.creds
- name: KUBIYA_USER_ORG
  value: {{ include "kubiya.organization" . | quote }}
- name: KUBIYA_AGENT_UUID
  value: {{ include "kubiya.uuid" . | quote }}
- name: KUBIYA_SERVICE_ACCOUNT
  value: tool-manager
- name: KUBIYA_TOOL_TIMEOUT
  value: {{ .Values.toolTimeout | quote }}
- name: KUBIYA_LONG_RUNNING_TOOL_TIMEOUT
  value: {{ .Values.longRunningToolTimeout | quote }}
- name: KUBIYA_TOOLS_SHARED_VOLUME
  value: /tmp/kubiya_shared_tools
{{- if .Values.global.registryTls.enabled }}
- name: SSL_CERT_FILE
  value: /etc/kubiya/ca/ca-certificates.crt
- name: REQUESTS_CA_BUNDLE
  value: /etc/kubiya/ca/ca-certificates.crt
{{- end }}
{{- end -}}

{{- define "tool-manager.commonMounts" -}}
- name: nats-creds
  mountPath: /etc/nats
  readOnly: true
- name: shared-tools
  mountPath: /tmp/kubiya_shared_tools
- name: tmp
  mountPath: /tmp
{{- if .Values.global.registryTls.enabled }}
- name: ca-bundle
  mountPath: /etc/kubiya/ca
  readOnly: true
{{- end }}
{{- end -}}
