{{/* Release-scoped base name. */}}
{{- define "noctria.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's objects: <fullname>-<service>. Call with (dict "root" $ "name" $name). */}}
{{- define "noctria.serviceName" -}}
{{- printf "%s-%s" (include "noctria.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "noctria.chartLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: noctria
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service. (dict "root" $ "name" $name) */}}
{{- define "noctria.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "noctria.serviceLabels" -}}
{{ include "noctria.chartLabels" .root }}
{{ include "noctria.selectorLabels" . }}
app.kubernetes.io/component: {{ .svc.component | default .name }}
{{- end -}}

{{- define "noctria.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "noctria.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "noctria.image" -}}
{{- $img := .Values.global.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "noctria.configMapName" -}}
{{- printf "%s-policies" (include "noctria.fullname" .) -}}
{{- end -}}

{{/* A plain value or a secretKeyRef: (dict "name" "NATS_URL" "spec" .Values.global.nats) */}}
{{- define "noctria.urlEnv" -}}
- name: {{ .name }}
{{- if and .spec.secretRef .spec.secretRef.name }}
  valueFrom:
    secretKeyRef:
      name: {{ .spec.secretRef.name }}
      key: {{ .spec.secretRef.key }}
{{- else }}
  value: {{ .spec.url | quote }}
{{- end }}
{{- end -}}

{{/* The environment shared by a service's Deployment, its migrations Job and its retention CronJob. (dict "root" $ "name" $name "svc" $svc) */}}
{{- define "noctria.env" -}}
{{- $g := .root.Values.global -}}
- name: NOCTRIA_PROFILE
  value: cluster
- name: SERVICE_ENV
  value: {{ $g.serviceEnv | quote }}
- name: LOG_LEVEL
  value: {{ $g.logLevel | quote }}
- name: TZ
  value: UTC
- name: NOCTRIA_CONFIG_DIR
  value: {{ $g.configDir | quote }}
- name: NOCTRIA_DATA_DIR
  value: {{ $g.dataDir | quote }}
- name: HTTP_HOST
  value: "0.0.0.0"
- name: {{ .svc.portEnv | default "HTTP_PORT" }}
  value: {{ .svc.port | quote }}
{{ include "noctria.urlEnv" (dict "name" "NATS_URL" "spec" $g.nats) }}
{{ include "noctria.urlEnv" (dict "name" "REDIS_URL" "spec" $g.redis) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $g.database.secretName }}
      key: {{ $g.database.secretKey }}
{{- if $g.otelEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $g.otelEndpoint | quote }}
{{- end }}
{{- range $k, $v := .svc.env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- range $k, $ref := .svc.secretEnv }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* Volumes: the policy ConfigMap laid out as <dir>/<name>.yaml + <dir>/schemas/<name>.schema.json, tmp and data emptyDirs. */}}
{{- define "noctria.volumes" -}}
- name: policies
  configMap:
    name: {{ include "noctria.configMapName" . }}
    items:
{{- range $path, $_ := .Files.Glob "files/configs/*.yaml" }}
      - key: {{ base $path }}
        path: {{ base $path }}
{{- end }}
{{- range $path, $_ := .Files.Glob "files/configs/schemas/*.schema.json" }}
      - key: {{ base $path }}
        path: schemas/{{ base $path }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: data
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{- define "noctria.volumeMounts" -}}
- name: policies
  mountPath: {{ .Values.global.configDir }}
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ .Values.global.dataDir }}
{{- end -}}

{{/* Checksum of everything in the policy ConfigMap: pods roll when a policy changes. */}}
{{- define "noctria.policiesChecksum" -}}
{{- $all := "" -}}
{{- range $path, $bytes := .Files.Glob "files/configs/**" -}}
{{- $all = printf "%s%s:%s;" $all $path (sha256sum (toString $bytes)) -}}
{{- end -}}
{{- sha256sum $all -}}
{{- end -}}

{{/* Non-empty when any service runs a migrations Job or a retention CronJob. */}}
{{- define "noctria.jobsEnabled" -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.enabled (or (and $svc.migrations $svc.migrations.enabled) (and $svc.retention $svc.retention.enabled)) -}}x{{- end -}}
{{- end -}}
{{- end -}}
