{{- define "dingtalk-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name alone when it already contains the chart's name. */}}
{{- define "dingtalk-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dingtalk-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dingtalk-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The receiver's pods carry a name of their own, so the operator's selectors (Deployment, PodDisruptionBudget,
NetworkPolicy) never match them.
*/}}
{{- define "dingtalk-operator.receiverSelectorLabels" -}}
app.kubernetes.io/name: {{ include "dingtalk-operator.name" . }}-receiver
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dingtalk-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dingtalk-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: dingtalk-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dingtalk-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dingtalk-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The receiver runs under a ServiceAccount of its own: it faces the network and must not read Secrets. */}}
{{- define "dingtalk-operator.receiverServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-receiver" (include "dingtalk-operator.fullname" .)) .Values.serviceAccount.receiverName }}
{{- else }}
{{- required "serviceAccount.receiverName is required when serviceAccount.create is false" .Values.serviceAccount.receiverName }}
{{- end }}
{{- end }}

{{- define "dingtalk-operator.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Both containers learn their pod's name and namespace from the downward API (Lease identity, events). */}}
{{- define "dingtalk-operator.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{- define "dingtalk-operator.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/*
Rules on the project's kinds, Secrets, ConfigMaps and events: in the ClusterRole when every namespace is
watched, in a Role per namespace otherwise. Each rule is needed: test/packaging/rbac.test.ts finds a request
of its scenario that the API server refuses without it.
*/}}
{{- define "dingtalk-operator.namespacedRules" -}}
- apiGroups: [dingtalk.alarming.io]
  resources: [dingtalkservices, alarmrules, alarmevents]
  verbs: [get, list, watch]
- apiGroups: [dingtalk.alarming.io]
  resources: [dingtalkservices/status, alarmrules/status, alarmevents/status]
  verbs: [patch, update]
# Resolved AlarmEvents are deleted after their TTL; the receiver, not the operator, writes them.
- apiGroups: [dingtalk.alarming.io]
  resources: [alarmevents]
  verbs: [delete]
{{- /*
Secrets and ConfigMaps: get reads the ones a DingTalkService refers to, by name. watch is asked for
metadata only (PartialObjectMetadata), to learn that a referenced one changed; nothing is listed or
cached cluster-wide. The README's "Multi-tenancy and security" explains what watch allows.
*/}}
{{- if or .Values.watchNamespaces (eq .Values.secretAccess "cluster") }}
{{ include "dingtalk-operator.secretRules" . }}
{{- end }}
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/*
The receiver's rights: write AlarmEvents (create raises an alarm, patch resolves one), in the ClusterRole when
every namespace is watched, in a Role per namespace otherwise. Nothing else: no Secrets, no reads.
*/}}
{{- define "dingtalk-operator.receiverNamespacedRules" -}}
- apiGroups: [dingtalk.alarming.io]
  resources: [alarmevents]
  verbs: [create, patch]
# A Warning Event in the alarm's namespace for alerts it could not store (AlertsRejected).
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* The receiver checks callers' bearer tokens and rights; these are cluster-scoped, so always in a ClusterRole. */}}
{{- define "dingtalk-operator.receiverClusterRules" -}}
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
{{- end }}

{{/*
Secrets and ConfigMaps, in the operator's ClusterRole or Roles, or with secretAccess: namespaces in the
ClusterRole "<fullname>-secrets" that a RoleBinding grants in one namespace at a time.
*/}}
{{- define "dingtalk-operator.secretRules" -}}
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [get]
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [watch]
{{- end }}

{{/* True (non-empty) when Secrets are granted per namespace by RoleBindings to "<fullname>-secrets". */}}
{{- define "dingtalk-operator.secretsPerNamespace" -}}
{{- if and (not .Values.watchNamespaces) (eq .Values.secretAccess "namespaces") }}true{{ end }}
{{- end }}
