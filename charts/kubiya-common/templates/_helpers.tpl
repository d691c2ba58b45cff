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

{{/* metadata block (name, namespace, labels) of an object of one component; namespace
   defaults to the release namespace (dagger objects pass the dagger namespace). */}}
{{- define "kubiya.metadata" -}}
name: {{ .name | default .component }}
namespace: {{ .namespace | default .ctx.Release.Namespace }}
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
{{- if and (not .image.digest) (not (regexMatch (include "kubiya.pinnedTagPattern" .) $tag)) -}}
{{- fail (printf "image tag %q of %s moves (not a version or commit tag): pin a version tag or set its image.digest" $tag .image.repository) -}}
{{- end -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{/*
A tag that names one build: a version (v1.2.3, 1.32.0, 1.37.0-musl) or a commit id (7-64 hex).
Anything else (latest, stable, main, runner_v2, ...) moves and needs image.digest.
Kept in step with tools/chart-schema.py (PINNED_TAG).
*/}}
{{- define "kubiya.pinnedTagPattern" -}}
^(v?[0-9]+(\.[0-9]+){1,3}([-+_.][0-9A-Za-z][0-9A-Za-z_.-]*)?|[0-9a-f]{7,64})$
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
Namespace of the dagger engine: global.daggerNamespace (hardened profile) or the release
namespace (default layout). Input: the root context.
*/}}
{{- define "kubiya.daggerNamespace" -}}
{{- .Values.global.daggerNamespace | default .Release.Namespace -}}
{{- end -}}

{{/*
IPv4 CIDR as "<network as integer> <prefix length>" (IPv6: empty). Input: the CIDR string.
*/}}
{{- define "kubiya.cidrInt" -}}
{{- if not (contains ":" .) -}}
{{- $parts := splitList "/" . -}}
{{- $o := splitList "." (index $parts 0) -}}
{{- $ip := add (mul (atoi (index $o 0)) 16777216) (mul (atoi (index $o 1)) 65536) (mul (atoi (index $o 2)) 256) (atoi (index $o 3)) -}}
{{- printf "%d %d" $ip (atoi (index $parts 1)) -}}
{{- end -}}
{{- end -}}

{{/*
The blocked CIDRs that lie strictly inside an allowed CIDR, as a JSON list: they become the
ipBlock's `except` (Kubernetes requires every except entry to be a strict subset of the cidr;
a blocked range that contains the allowed CIDR, or equals it, leaves it allowed: that is how
an explicit private CIDR, e.g. the API server's, is let through).
Input: (dict "cidr" "<cidr>" "blocked" (list "<cidr>" ...))
*/}}
{{- define "kubiya.cidrExcept" -}}
{{- $out := list -}}
{{- $a := include "kubiya.cidrInt" .cidr -}}
{{- if $a -}}
{{- $ap := splitList " " $a -}}
{{- $aip := index $ap 0 | atoi -}}
{{- $alen := index $ap 1 | atoi -}}
{{- $size := 1 -}}
{{- range until (sub 32 $alen | int) }}{{ $size = mul $size 2 }}{{ end -}}
{{- range .blocked -}}
{{- $b := include "kubiya.cidrInt" . -}}
{{- if $b -}}
{{- $bp := splitList " " $b -}}
{{- if and (gt (index $bp 1 | atoi) $alen) (eq (div (index $bp 0 | atoi) $size) (div $aip $size)) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
Egress peers (ipBlock list) for a list of CIDRs, each with its computed `except`.
Input: (dict "cidrs" (list ...) "blocked" (list ...))
*/}}
{{- define "kubiya.ipBlocks" -}}
{{- $blocked := .blocked -}}
{{- range .cidrs }}
- ipBlock:
    cidr: {{ . }}
    {{- with (include "kubiya.cidrExcept" (dict "cidr" . "blocked" $blocked) | fromJsonArray) }}
    except:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* The cloud instance-metadata address: never reachable through a broad ipBlock. */}}
{{- define "kubiya.metadataCidrs" -}}
{{- toJson (list "169.254.169.254/32") -}}
{{- end -}}

{{/*
One pod peer: pods of this release with an optional component, in `namespace` (a
namespaceSelector is added when it is not the namespace of the policy itself).
Input: (dict "ctx" $ "from" "<component>|release" "namespace" "<ns>" "policyNamespace" "<ns>")
*/}}
{{- define "kubiya.podPeer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .ctx.Release.Name }}
      {{- if ne .from "release" }}
      app.kubernetes.io/component: {{ .from }}
      {{- end }}
  {{- if ne .namespace .policyNamespace }}
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace }}
  {{- end }}
{{- end -}}

{{/*
NetworkPolicy of one component (rendered when global.networkPolicy.enabled).
Ingress: only the listed sources; an empty list denies all ingress.
  ingress: list of (dict "from" (list "<component>"|"release") "ports" (list <port>))
    "release" = any pod of this release (label app.kubernetes.io/instance) in the release
    namespace; sources always live in the release namespace.
Egress (global.networkPolicy.egress.enabled, on by default): DNS, pods of the release (both
  namespaces in the hardened profile), the named destinations of global.networkPolicy.egress
  (apiServer, nats, registry, remoteWrite, updateSource) and, in mode "internet" for a
  component with "internet" true, 0.0.0.0/0 except the instance-metadata address and
  global.networkPolicy.egress.blockedCidrs. Every ipBlock that contains the metadata address
  excepts it; named destinations other than apiServer also except blockedCidrs.
  egress: list of destination names.
Input: (dict "ctx" $ "component" "<c>" "ingress" (list ...) "egress" (list ...)
        ["internet" true|false] ["namespace" "<ns of the component's pods>"])
*/}}
{{- define "kubiya.networkPolicy" -}}
{{- $np := .ctx.Values.global.networkPolicy -}}
{{- if $np.enabled }}
{{- $ctx := .ctx -}}
{{- $releaseNs := .ctx.Release.Namespace -}}
{{- $ns := .namespace | default $releaseNs -}}
{{- $daggerNs := include "kubiya.daggerNamespace" .ctx -}}
{{- $eg := $np.egress -}}
{{- $metadata := include "kubiya.metadataCidrs" . | fromJsonArray -}}
{{- $blocked := concat $metadata ($eg.blockedCidrs | default list) -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .name | default .component }}
  namespace: {{ $ns }}
  labels:
    {{- include "kubiya.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "kubiya.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $eg.enabled }}
    - Egress
    {{- end }}
  ingress:
    {{- range .ingress }}
    - from:
        {{- range .from }}
        {{- include "kubiya.podPeer" (dict "ctx" $ctx "from" . "namespace" $releaseNs "policyNamespace" $ns) | nindent 8 }}
        {{- end }}
      ports:
        {{- range .ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- else }} []
    {{- end }}
  {{- if $eg.enabled }}
  egress:
    # DNS: the cluster DNS pods (and dns.cidrs, e.g. a node-local cache)
    - to:
        - namespaceSelector:
            {{- toYaml $eg.dns.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $eg.dns.podSelector | nindent 12 }}
        {{- include "kubiya.ipBlocks" (dict "cidrs" ($eg.dns.cidrs | default list) "blocked" $metadata) | nindent 8 }}
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    # pods of this release
    - to:
        {{- include "kubiya.podPeer" (dict "ctx" $ctx "from" "release" "namespace" $ns "policyNamespace" $ns) | nindent 8 }}
        {{- range (without (uniq (list $releaseNs $daggerNs)) $ns) }}
        {{- include "kubiya.podPeer" (dict "ctx" $ctx "from" "release" "namespace" . "policyNamespace" $ns) | nindent 8 }}
        {{- end }}
    {{- range .egress }}
    {{- $dest := index $eg . }}
    {{- if $dest.cidrs }}
    # {{ . }}
    - to:
        {{- include "kubiya.ipBlocks" (dict "cidrs" $dest.cidrs "blocked" (ternary $metadata $blocked (eq . "apiServer"))) | nindent 8 }}
      ports:
        {{- range $dest.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
    {{- end }}
    {{- if and .internet (eq $eg.mode "internet") }}
    # the internet: everything but the instance metadata and blockedCidrs
    - to:
        {{- include "kubiya.ipBlocks" (dict "cidrs" (list "0.0.0.0/0") "blocked" $blocked) | nindent 8 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- secrets */}}

{{/* Secret holding the NATS credentials (keys operator.creds and runner.creds). */}}
{{- define "kubiya.natsSecretName" -}}
{{- .Values.global.nats.existingSecret | default (printf "%s-nats-creds" .Release.Name) -}}
{{- end -}}

{{/*
Secret holding the registry certificate (key tls.crt; only that key is ever mounted).
Created from values: `<release>-registry-ca` (Opaque, tls.crt only) when no private key is
given, `<release>-registry-tls` (kubernetes.io/tls) when one is. Two names, because a
Secret's type cannot change in place.
*/}}
{{- define "kubiya.registryTlsSecretName" -}}
{{- $tls := .Values.global.registryTls -}}
{{- $tls.existingSecret | default (printf (ternary "%s-registry-tls" "%s-registry-ca" (not (empty $tls.key))) .Release.Name) -}}
{{- end -}}
