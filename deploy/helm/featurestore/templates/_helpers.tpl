{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "featurestore.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "featurestore.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; "component" is added per object. */}}
{{- define "featurestore.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "featurestore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: featurestore
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "core"). */}}
{{- define "featurestore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "featurestore.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "featurestore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "featurestore.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "featurestore.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Checks what values.schema.json cannot say across fields; each failure names the value and
what to set. Included by every workload, so `helm template` and `helm install` stop on it.
*/}}
{{- define "featurestore.validate" -}}
{{- $_ := required "postgresql.existingSecret is required: the name of a Secret holding postgres://user:password@host:5432/database under postgresql.urlKey (kubectl create secret generic featurestore-postgresql --from-literal=url=…)" .Values.postgresql.existingSecret -}}
{{- $_ := required "kafka.existingSecret is required: the name of a Secret holding kafka://broker:9092 under kafka.urlKey (pods cannot share the embedded local log)" .Values.kafka.existingSecret -}}
{{- $_ := required "config.storage is required: s3://bucket/prefix or abfss://filesystem@account.dfs.core.windows.net/prefix (pods cannot share a local folder)" .Values.config.storage -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled needs tls.existingSecret: the name of a kubernetes.io/tls Secret (tls.crt, tls.key) for the gRPC port" -}}
{{- end -}}
{{- if and .Values.tls.clientCaSecret (not .Values.tls.enabled) -}}
{{- fail "tls.clientCaSecret (mutual TLS) needs tls.enabled and tls.existingSecret" -}}
{{- end -}}
{{- if and (not .Values.tls.enabled) (not .Values.server.allowPlaintext) -}}
{{- fail "the gRPC port has no TLS: set tls.enabled with tls.existingSecret, or server.allowPlaintext=true when a service mesh or TLS-terminating proxy carries the traffic" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.tls.clientCaSecret (not .Values.metrics.serviceMonitor.tlsClientSecret) -}}
{{- fail "metrics.serviceMonitor with mutual TLS (tls.clientCaSecret) needs metrics.serviceMonitor.tlsClientSecret: a kubernetes.io/tls Secret with a client certificate the client CA signed, for Prometheus to scrape /metrics" -}}
{{- end -}}
{{- if .Values.auth.oidc.enabled -}}
{{- if not (and .Values.auth.oidc.issuer .Values.auth.oidc.audience) -}}
{{- fail "auth.oidc.enabled needs auth.oidc.issuer and auth.oidc.audience (auth.oidc.jwksUri is optional: the issuer's discovery document names its keys)" -}}
{{- end -}}
{{- end -}}
{{- if and (hasPrefix "s3://" .Values.config.storage) .Values.objectStorage.azure.existingSecret -}}
{{- fail "objectStorage.azure.existingSecret is set but config.storage is an s3:// URL: set objectStorage.s3.existingSecret instead" -}}
{{- end -}}
{{- if and .Values.online.autoscaling.enabled (lt (int .Values.online.autoscaling.maxReplicas) (int .Values.online.autoscaling.minReplicas)) -}}
{{- fail "online.autoscaling.maxReplicas must be at least online.autoscaling.minReplicas" -}}
{{- end -}}
{{- end -}}

{{/* The config file the ConfigMap holds: the non-secret fields, plus how servers migrate. */}}
{{- define "featurestore.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "store" "/var/lib/featurestore" -}}
{{- $_ := set $config "migrations" "require" -}}
{{- $_ := set $config "migrationWaitSeconds" (int .Values.migrations.waitSeconds) -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/* Environment of every Featurestore container: credentials from Secrets, never values. */}}
{{- define "featurestore.env" -}}
- name: FEATURESTORE_METADATA_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.urlKey }}
- name: FEATURESTORE_QUEUE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.existingSecret }}
      key: {{ .Values.kafka.urlKey }}
{{- with .Values.redis.existingSecret }}
- name: FEATURESTORE_ONLINE_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.redis.urlKey }}
{{- end }}
{{- with .Values.objectStorage.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.objectStorage.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.objectStorage.s3.secretAccessKeyKey }}
{{- end }}
{{- with .Values.objectStorage.azure.existingSecret }}
- name: {{ eq $.Values.objectStorage.azure.credential "sasToken" | ternary "FEATURESTORE_AZURE_SAS_TOKEN" "FEATURESTORE_AZURE_ACCOUNT_KEY" }}
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.objectStorage.azure.key }}
{{- end }}
{{- if .Values.sparkOperator.enabled }}
- name: FEATURESTORE_COMPUTE
  value: spark
- name: FEATURESTORE_SPARK_MODE
  value: operator
- name: FEATURESTORE_SPARK_NAMESPACE
  value: {{ default .Release.Namespace .Values.sparkOperator.namespace | quote }}
- name: FEATURESTORE_SPARK_IMAGE
  value: {{ .Values.sparkOperator.image | quote }}
- name: FEATURESTORE_SPARK_SERVICE_ACCOUNT
  value: {{ .Values.sparkOperator.driverServiceAccount | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Environment of the servers only: the first admin's token and OIDC. */}}
{{- define "featurestore.serverEnv" -}}
{{- with .Values.auth.adminToken.existingSecret }}
- name: FEATURESTORE_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.auth.adminToken.key }}
{{- end }}
{{- if .Values.auth.oidc.enabled }}
- name: FEATURESTORE_OIDC_ISSUER
  value: {{ .Values.auth.oidc.issuer | quote }}
- name: FEATURESTORE_OIDC_AUDIENCE
  value: {{ .Values.auth.oidc.audience | quote }}
{{- with .Values.auth.oidc.jwksUri }}
- name: FEATURESTORE_OIDC_JWKS_URI
  value: {{ . | quote }}
{{- end }}
{{- with .Values.auth.oidc.adminGroup }}
- name: FEATURESTORE_OIDC_ADMIN_GROUP
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The arguments of `featurestore serve` for one role. */}}
{{- define "featurestore.serveArgs" -}}
- --config
- /etc/featurestore/config/config.json
- serve
- --role
- {{ .role }}
{{- if and (eq .role "online") (eq .root.Values.online.workers "separate") }}
- --no-workers
{{- end }}
- --listen
- 0.0.0.0:{{ .root.Values.server.grpcPort }}
- --http-listen
- 0.0.0.0:{{ .root.Values.server.httpPort }}
- --drain-timeout
- {{ .root.Values.server.drainTimeoutSeconds | quote }}
{{- if .root.Values.tls.enabled }}
- --tls-cert
- /etc/featurestore/tls/tls.crt
- --tls-key
- /etc/featurestore/tls/tls.key
{{- if .root.Values.tls.clientCaSecret }}
- --tls-client-ca
- /etc/featurestore/client-ca/ca.crt
{{- end }}
{{- else }}
- --insecure
{{- end }}
{{- end -}}

{{/*
Probes on the gRPC health protocol: call with (dict "root" $ "role" "core"). Without TLS the
kubelet asks it itself (grpc probes); the kubelet's gRPC probe has no TLS, so with TLS
`featurestore health` asks it from inside the pod, trusting the CA of the TLS Secret
(tls.caKey) for the Service's name (and presenting the server's own certificate under mutual
TLS, which then needs the clientAuth usage).
*/}}
{{- define "featurestore.grpcProbe" -}}
{{- $values := .root.Values -}}
{{- if $values.tls.enabled }}
exec:
  command:
    - featurestore
    - health
    - --address
    - 127.0.0.1:{{ $values.server.grpcPort }}
    - --ca
    - /etc/featurestore/tls/{{ $values.tls.caKey }}
    - --server-name
    - {{ default (printf "%s-%s.%s.svc" (include "featurestore.fullname" .root) .role .root.Release.Namespace) $values.tls.serverName }}
    {{- if $values.tls.clientCaSecret }}
    - --cert
    - /etc/featurestore/tls/tls.crt
    - --key
    - /etc/featurestore/tls/tls.key
    {{- end }}
{{- else }}
grpc:
  port: {{ $values.server.grpcPort }}
{{- end }}
{{- end -}}

{{/* Volumes of every Featurestore pod. */}}
{{- define "featurestore.volumes" -}}
- name: config
  configMap:
    name: {{ include "featurestore.fullname" .root }}
- name: scratch
  emptyDir:
    sizeLimit: {{ .scratchSize }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- if .root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .root.Values.tls.existingSecret }}
{{- with .root.Values.tls.clientCaSecret }}
- name: client-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}
{{- with .root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "featurestore.volumeMounts" -}}
- name: config
  mountPath: /etc/featurestore/config
  readOnly: true
- name: scratch
  mountPath: /var/lib/featurestore
- name: tmp
  mountPath: /tmp
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/featurestore/tls
  readOnly: true
{{- if .Values.tls.clientCaSecret }}
- name: client-ca
  mountPath: /etc/featurestore/client-ca
  readOnly: true
{{- end }}
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A Deployment of `featurestore serve` for one role: call with (dict "root" $ "role" "core"
"component" .Values.core).
*/}}
{{- define "featurestore.serverDeployment" -}}
{{- $root := .root -}}
{{- $values := .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "featurestore.fullname" $root }}-{{ .role }}
  labels:
    {{- include "featurestore.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
spec:
  {{- if not (and (eq .role "online") $values.autoscaling.enabled) }}
  replicas: {{ $values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "featurestore.selectorLabels" (dict "root" $root "component" .role) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "featurestore.selectorLabels" (dict "root" $root "component" .role) | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A changed config rolls the pods.
        checksum/config: {{ include "featurestore.config" $root | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "featurestore.serviceAccountName" $root }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # Draining waits up to drainTimeoutSeconds for calls in flight, then stops the workers.
      terminationGracePeriodSeconds: {{ add $root.Values.server.drainTimeoutSeconds 15 }}
      containers:
        - name: featurestore
          image: {{ include "featurestore.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- include "featurestore.serveArgs" (dict "root" $root "role" .role) | nindent 12 }}
          env:
            {{- include "featurestore.env" $root | nindent 12 }}
            {{- include "featurestore.serverEnv" $root | nindent 12 }}
          ports:
            - name: grpc
              containerPort: {{ $root.Values.server.grpcPort }}
              protocol: TCP
            - name: http
              containerPort: {{ $root.Values.server.httpPort }}
              protocol: TCP
          # Opening the store may wait for the migrate Job (migrations.waitSeconds).
          startupProbe:
            {{- include "featurestore.grpcProbe" (dict "root" $root "role" .role) | nindent 12 }}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: {{ add 6 (div $root.Values.migrations.waitSeconds 5) }}
          readinessProbe:
            {{- include "featurestore.grpcProbe" (dict "root" $root "role" .role) | nindent 12 }}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 2
          livenessProbe:
            {{- include "featurestore.grpcProbe" (dict "root" $root "role" .role) | nindent 12 }}
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "featurestore.volumeMounts" $root | nindent 12 }}
      volumes:
        {{- include "featurestore.volumes" (dict "root" $root "scratchSize" $values.scratchSize) | nindent 8 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
