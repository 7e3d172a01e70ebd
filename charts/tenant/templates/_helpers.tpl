{{/* The tenant-env's namespace: <tenant>-<env>. */}}
{{- define "tenant.namespace" -}}
{{- required "tenant.name is required" .Values.tenant.name }}-{{ required "tenant.env is required" .Values.tenant.env }}
{{- end }}

{{/* Labels on every object: app.kubernetes.io/* and berth.dev/*. */}}
{{- define "tenant.labels" -}}
app.kubernetes.io/name: tenant
app.kubernetes.io/instance: {{ include "tenant.namespace" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: berth
app.kubernetes.io/part-of: berth
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
berth.dev/tenant: {{ .Values.tenant.name }}
berth.dev/env: {{ .Values.tenant.env }}
berth.dev/tier: {{ .Values.tenant.tier }}
{{- end }}
