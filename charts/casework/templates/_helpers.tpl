{{/* Names and labels shared by every template. */}}
{{- define "casework.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "casework.labels" -}}
app.kubernetes.io/part-of: casework
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels of one service's pods; call with (dict "root" $ "service" $name). */}}
{{- define "casework.selector" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "casework.serviceLabels" -}}
{{ include "casework.labels" .root }}
{{ include "casework.selector" . }}
app.kubernetes.io/component: service
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
{{- end -}}

{{- define "casework.name" -}}
{{- printf "%s-%s" (include "casework.fullname" .root) .service -}}
{{- end -}}

{{- define "casework.image" -}}
{{- $image := printf "%s/%s%s" .root.Values.image.registry .root.Values.image.prefix .service -}}
{{- $digest := get .root.Values.image.digests .service -}}
{{- if $digest -}}{{ printf "%s@%s" $image $digest }}{{- else -}}{{ printf "%s:%s" $image .root.Values.image.tag }}{{- end -}}
{{- end -}}

{{- define "casework.kafkaNamespace" -}}
{{- .Values.kafka.strimzi.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "casework.bootstrap" -}}
{{- if .Values.kafka.bootstrapServers -}}
{{- .Values.kafka.bootstrapServers -}}
{{- else -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%s" .Values.kafka.strimzi.cluster (include "casework.kafkaNamespace" .) (ternary "9092" "9093" (eq .Values.kafka.security.protocol "PLAINTEXT")) -}}
{{- end -}}
{{- end -}}

{{- define "casework.pgCluster" -}}
{{- printf "%s-postgres" (include "casework.fullname" .) -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL DSN. CloudNativePG writes <cluster>-app with `uri`. */}}
{{- define "casework.dsnSecret" -}}
{{- if .Values.postgresql.cnpg.enabled -}}
{{- printf "%s-app" (include "casework.pgCluster" .) -}}
{{- else -}}
{{- .Values.postgresql.external.existingSecret | default (printf "%s-postgres" (include "casework.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{- define "casework.dsnKey" -}}
{{- if .Values.postgresql.cnpg.enabled -}}uri{{- else -}}{{ .Values.postgresql.external.secretKey }}{{- end -}}
{{- end -}}

{{- define "casework.keysSecret" -}}
{{- .Values.keys.existingSecret | default (printf "%s-keys" (include "casework.fullname" .)) -}}
{{- end -}}

{{/* Topics, from the services (caseplatform.topology: <service>.events.v1, <service>.deadletter.v1). */}}
{{- define "casework.topics" -}}
{{- range $name, $svc := .Values.services }}
- {name: {{ printf "%s.events.v1" $name }}, kind: events}
- {name: {{ printf "%s.deadletter.v1" $name }}, kind: deadletter}
{{- end }}
{{- end -}}

{{- define "casework.tlsSecret" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "casework.fullname" .)) -}}
{{- end -}}

{{/* The Secret holding the brokers' CA certificate (Strimzi's cluster CA by default). */}}
{{- define "casework.kafkaCaSecret" -}}
{{- default (printf "%s-cluster-ca-cert" .Values.kafka.strimzi.cluster) .Values.kafka.security.caSecret -}}
{{- end -}}
