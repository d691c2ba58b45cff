{{/*
Shared named templates of the Kubiya runner charts (umbrella kubiya-runner and the
agent-manager, tool-manager and kubiya-operator subcharts).

Convention: templates that describe one component take a dict
  (dict "ctx" $ "component" "<component>" ...)
where ctx is the root context of the calling chart.
*/}}

{{/* ---------------------------------------------------------------- identity */}}

{{/* The runner name (must match the name encoded in the NATS credentials). */}}
{{- define "kubiya.runnerName" -}}
{{- required "global.runner.name is required: the runner name the NATS credentials were issued for" .Values.global.runner.name -}}
{{- end -}}

{{- define "kubiya.organization" -}}
{{- required "global.runner.organization is required: the Kubiya organization of the runner" .Values.global.runner.organization -}}
{{- end -}}

{{- define "kubiya.uuid" -}}
{{- required "global.runner.uuid is required: the runner (agent) UUID" .Values.global.runner.uuid -}}
{{- end -}}

{{/* NATS subject the runner listens on: <organization>.<runner>.incoming */}}
{{- define "kubiya.natsSubject" -}}
{{- printf "%s.%s.incoming" (include "kubiya.organization" .) (include "kubiya.runnerName" .) -}}
{{- end -}}

{{/* ------------------------------------------------------------------ labels */}}

{{- define "kubiya.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubiya.labels" -}}
{{ include "kubiya.selectorLabels" . }}
app.kubernetes.io/part-of: kubiya-runner
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* metadata block (name, namespace, labels) of an object of one component. */}}
{{- define "kubiya.metadata" -}}
name: {{ .name | default .component }}
namespace: {{ .ctx.Release.Namespace }}
labels:
  {{- include "kubiya.labels" . | nindent 2 }}
{{- end -}}

{{/* ------------------------------------------------------------------ images */}}

{{/*
Image reference: [registry/]repository:tag[@digest]. global.imageRegistry replaces every
registry (mirror). Pull policy is always IfNotPresent (see kubiya.imagePullPolicy).
Input: (dict "ctx" $ "image" .Values.image)
*/}}
{{- define "kubiya.image" -}}
{{- $registry := .image.registry | default "" -}}
{{- with .ctx.Values.global.imageRegistry }}{{ $registry = . }}{{ end -}}
{{- $tag := required (printf "image tag of %s is required" .image.repository) .image.tag | toString -}}
{{- if eq $tag "latest" }}{{ fail (printf "image tag of %s must be pinned, not latest" .image.repository) }}{{ end -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "kubiya.imagePullPolicy" -}}
IfNotPresent
{{- end -}}

{{/* --------------------------------------------------------------- security */}}

{{/*
Pod securityContext of the Pod Security Standard "restricted".
Input: the component's podSecurityContext values (runAsUser, runAsGroup, fsGroup).
*/}}
{{- define "kubiya.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Container securityContext of the Pod Security Standard "restricted".
Input: (dict "readOnlyRootFilesystem" true|false)
*/}}
{{- define "kubiya.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: {{ .readOnlyRootFilesystem }}
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* ------------------------------------------------------------- scheduling */}}

{{/*
imagePullSecrets, nodeSelector, tolerations and affinity of a pod: global values first,
the component's own values added (nodeSelector keys of the component win).
Input: (dict "ctx" $ "values" <component values>)
*/}}
{{- define "kubiya.podScheduling" -}}
{{- $global := .ctx.Values.global -}}
{{- with $global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with merge (deepCopy (.values.nodeSelector | default dict)) ($global.nodeSelector | default dict) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with concat ($global.tolerations | default list) (.values.tolerations | default list) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ------------------------------------------------------------------ probes */}}

{{/* Input: (dict "probe" <probe values> "port" <port name or number>) */}}
{{- define "kubiya.httpProbe" -}}
httpGet:
  path: {{ .probe.path }}
  port: {{ .port }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{/* ------------------------------------------------------------------- RBAC */}}

{{/*
ServiceAccount of one component.
Input: (dict "ctx" $ "component" "<c>" "automount" true|false "annotations" {...})
*/}}
{{- define "kubiya.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "kubiya.metadata" . | nindent 2 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .automount }}
{{- end -}}

{{/*
Role + RoleBinding of one component in the release namespace. Rules are written
resource by resource and verb by verb; "*" is refused. Nothing is rendered when the
component needs no rule. The matrix lives in permissions.yaml (tests compare both).
Input: (dict "ctx" $ "component" "<c>" "rules" (list ...))
*/}}
{{- define "kubiya.rbac" -}}
{{- if .rules }}
{{- range .rules }}
{{- if or (has "*" .verbs) (has "*" .resources) (has "*" .apiGroups) }}
{{- fail "RBAC rules must not use \"*\"" }}
{{- end }}
{{- end }}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  {{- include "kubiya.metadata" . | nindent 2 }}
rules:
  {{- toYaml .rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  {{- include "kubiya.metadata" . | nindent 2 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .component }}
subjects:
  - kind: ServiceAccount
    name: {{ .component }}
    namespace: {{ .ctx.Release.Namespace }}
{{- end }}
{{- end -}}

{{/* -------------------------------------------------------------- networking */}}

{{/*
NetworkPolicy of one component (rendered when global.networkPolicy.enabled).
Ingress: only the listed sources; an empty list denies all ingress.
  ingress: list of (dict "from" (list "<component>"|"release") "ports" (list <port>))
    "release" = any pod of this release (label app.kubernetes.io/instance).
Egress (only when global.networkPolicy.egress.enabled): DNS, pods of the release, and the
  named destinations of global.networkPolicy.egress (e.g. nats, registry, remoteWrite, apiServer).
  egress: list of destination names.
Input: (dict "ctx" $ "component" "<c>" "ingress" (list ...) "egress" (list ...))
*/}}
{{- define "kubiya.networkPolicy" -}}
{{- $np := .ctx.Values.global.networkPolicy -}}
{{- if $np.enabled }}
{{- $release := .ctx.Release.Name -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "kubiya.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "kubiya.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $np.egress.enabled }}
    - Egress
    {{- end }}
  ingress:
    {{- range .ingress }}
    - from:
        {{- range .from }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $release }}
              {{- if ne . "release" }}
              app.kubernetes.io/component: {{ . }}
              {{- end }}
        {{- end }}
      ports:
        {{- range .ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- else }} []
    {{- end }}
  {{- if $np.egress.enabled }}
  egress:
    - to:
        - namespaceSelector:
            {{- toYaml $np.egress.dns.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.egress.dns.podSelector | nindent 12 }}
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $release }}
    {{- range .egress }}
    {{- $dest := index $np.egress . }}
    {{- if $dest.cidrs }}
    - to:
        {{- range $dest.cidrs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        {{- range $dest.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- secrets */}}

{{/* Secret holding the NATS credentials (keys operator.creds and runner.creds). */}}
{{- define "kubiya.natsSecretName" -}}
{{- .Values.global.nats.existingSecret | default (printf "%s-nats-creds" .Release.Name) -}}
{{- end -}}

{{/* Secret holding the registry TLS certificate (kubernetes.io/tls: tls.crt, tls.key). */}}
{{- define "kubiya.registryTlsSecretName" -}}
{{- .Values.global.registryTls.existingSecret | default (printf "%s-registry-tls" .Release.Name) -}}
{{- end -}}
