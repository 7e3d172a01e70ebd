{{/* The tenant-env's namespace: <tenant>-<env>. */}}
{{- define "module.namespace" -}}
{{- required "tenant.name is required" .Values.tenant.name }}-{{ required "tenant.env is required" .Values.tenant.env }}
{{- end }}

{{/* Labels on every object: app.kubernetes.io/* and berth.dev/*. */}}
{{- define "module.labels" -}}
{{ include "module.selector" . }}
app.kubernetes.io/version: {{ include "module.tag" . | quote }}
app.kubernetes.io/managed-by: berth
app.kubernetes.io/part-of: berth
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
berth.dev/env: {{ .Values.tenant.env }}
berth.dev/tier: {{ .Values.tenant.tier }}
{{- end }}

{{/* The labels that select this module's pods. */}}
{{- define "module.selector" -}}
app.kubernetes.io/name: data-lake
app.kubernetes.io/instance: {{ include "module.namespace" . }}-data-lake
berth.dev/tenant: {{ .Values.tenant.name }}
berth.dev/module: data-lake
{{- end }}

{{/* The image tag: the requested module version, else the chart's pinned tag. */}}
{{- define "module.tag" -}}
{{- .Values.module.version | default .Values.image.tag }}
{{- end }}

{{/* Replicas: none while the tenant is suspended (volumes are kept). */}}
{{- define "module.replicas" -}}
{{- if .Values.suspended }}0{{ else }}{{ .Values.replicas }}{{ end }}
{{- end }}
