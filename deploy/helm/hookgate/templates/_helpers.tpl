{{/* vim: set filetype=mustache: */}}

{{/* The chart name. */}}
{{- define "hookgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name: <release>-hookgate, or the release name when it already says hookgate. */}}
{{- define "hookgate.fullname" -}}
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

{{/* Name of a component's objects: (dict "ctx" $ "suffix" "gateway"). Trimmed to a DNS label. */}}
{{- define "hookgate.componentName" -}}
{{- printf "%s-%s" (include "hookgate.fullname" .ctx | trunc 40 | trimSuffix "-") .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hookgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods: (dict "ctx" $ "component" "gateway" ["consumer" name]). */}}
{{- define "hookgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookgate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .consumer }}
hookgate/consumer: {{ .consumer }}
{{- end }}
{{- end -}}

{{/* Every object's labels: the selector labels plus version, part-of, managed-by, chart and commonLabels. */}}
{{- define "hookgate.labels" -}}
{{ include "hookgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: hookgate
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "hookgate.chart" .ctx }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations (at indent 2) from commonAnnotations plus an object's own (dict "ctx" $ "extra" map). */}}
{{- define "hookgate.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy .ctx.Values.commonAnnotations) -}}
{{- if $all }}
  annotations:
    {{- toYaml $all | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The image reference: (dict "ctx" $ "override" map-with-registry/repository/tag). A digest pins it. */}}
{{- define "hookgate.image" -}}
{{- $img := .ctx.Values.image -}}
{{- $o := default dict .override -}}
{{- $registry := default $img.registry $o.registry -}}
{{- $repository := default $img.repository $o.repository -}}
{{- $tag := default (default .ctx.Chart.AppVersion $img.tag) $o.tag -}}
{{- $ref := ternary (printf "%s/%s" $registry $repository) $repository (ne $registry "") -}}
{{- if and $img.digest (not $o.repository) -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* Where Secrets are mounted. */}}
{{- define "hookgate.saslDir" -}}/var/run/secrets/hookgate/kafka-sasl{{- end -}}
{{- define "hookgate.tlsDir" -}}/var/run/secrets/hookgate/kafka-tls{{- end -}}
{{- define "hookgate.configDir" -}}/etc/hookgate{{- end -}}

{{/* hookgate's kafka: section as a dict rendered to YAML. Secrets appear only as file: or ${ENV} references. */}}
{{- define "hookgate.kafkaConfig" -}}
{{- $k := .Values.kafka -}}
{{- $topics := dict "prefix" $k.topics.prefix "template" $k.topics.template "partitions" $k.topics.partitions "replication_factor" $k.topics.replicationFactor "config" $k.topics.config -}}
{{- $out := dict "bootstrap_servers" $k.bootstrapServers "client_id" $k.clientId "security_protocol" $k.securityProtocol "request_timeout_ms" $k.requestTimeoutMs "create_topics" $k.createTopics "topics" $topics -}}
{{- if $k.sasl.mechanism -}}
{{- $_ := set $out "sasl_mechanism" $k.sasl.mechanism -}}
{{- $_ := set $out "sasl_username" (ternary "${KAFKA_SASL_USERNAME}" $k.sasl.username (ne $k.sasl.usernameKey "")) -}}
{{- $_ := set $out "sasl_password" (printf "file:%s/password" (include "hookgate.saslDir" .)) -}}
{{- end -}}
{{- if $k.tls.existingSecret -}}
{{- $_ := set $out "ssl_cafile" (printf "%s/ca.crt" (include "hookgate.tlsDir" .)) -}}
{{- if $k.tls.certKey -}}
{{- $_ := set $out "ssl_certfile" (printf "%s/tls.crt" (include "hookgate.tlsDir" .)) -}}
{{- $_ := set $out "ssl_keyfile" (printf "%s/tls.key" (include "hookgate.tlsDir" .)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Refuse Kafka settings that cannot work, naming the key. */}}
{{- define "hookgate.validateKafka" -}}
{{- $k := .Values.kafka -}}
{{- $sasl := has $k.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}
{{- if and $sasl (not $k.sasl.mechanism) -}}
{{- fail (printf "kafka.sasl.mechanism: required with kafka.securityProtocol %s" $k.securityProtocol) -}}
{{- end -}}
{{- if and $k.sasl.mechanism (not $sasl) -}}
{{- fail "kafka.sasl.mechanism: needs kafka.securityProtocol SASL_PLAINTEXT or SASL_SSL" -}}
{{- end -}}
{{- if and $k.sasl.mechanism (not $k.sasl.existingSecret) -}}
{{- fail "kafka.sasl.existingSecret: required with kafka.sasl.mechanism (the password only comes from a Secret)" -}}
{{- end -}}
{{- if and $k.sasl.mechanism (not $k.sasl.username) (not $k.sasl.usernameKey) -}}
{{- fail "kafka.sasl.username: set it, or kafka.sasl.usernameKey to read it from the Secret" -}}
{{- end -}}
{{- if and $k.tls.existingSecret (not (has $k.securityProtocol (list "SSL" "SASL_SSL"))) -}}
{{- fail "kafka.tls.existingSecret: needs kafka.securityProtocol SSL or SASL_SSL" -}}
{{- end -}}
{{- if ne (empty $k.tls.certKey) (empty $k.tls.keyKey) -}}
{{- fail "kafka.tls.keyKey: kafka.tls.certKey and kafka.tls.keyKey go together" -}}
{{- end -}}
{{- if and $k.tls.certKey (not $k.tls.existingSecret) -}}
{{- fail "kafka.tls.existingSecret: required with kafka.tls.certKey" -}}
{{- end -}}
{{- end -}}

{{/* The broker ports NetworkPolicies open: networkPolicy.kafkaPorts, else those of kafka.bootstrapServers. */}}
{{- define "hookgate.kafkaPorts" -}}
{{- $ports := list -}}
{{- if .Values.networkPolicy.kafkaPorts -}}
{{- $ports = .Values.networkPolicy.kafkaPorts -}}
{{- else -}}
{{- range splitList "," .Values.kafka.bootstrapServers -}}
{{- $p := regexFind "[0-9]+$" (trim .) -}}
{{- if $p }}{{ $ports = append $ports (atoi $p) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- toJson (uniq $ports) -}}
{{- end -}}

{{/* Environment every container gets: the bootstrap servers (they win over the file) and the SASL user name. */}}
{{- define "hookgate.kafkaEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
{{- if and .Values.kafka.sasl.mechanism .Values.kafka.sasl.usernameKey }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
{{- end }}
{{- end -}}

{{/* env entries from existing Secrets: a list of {name, existingSecret, key}. */}}
{{- define "hookgate.secretEnv" -}}
{{- range . }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{/* Volumes every pod has: the config, /tmp, and the Kafka Secrets when configured (dict "ctx" $ "configMap" name "key" key). */}}
{{- define "hookgate.volumes" -}}
{{- $k := .ctx.Values.kafka -}}
- name: config
  configMap:
    name: {{ .configMap }}
    items:
      - key: {{ .key }}
        path: config.yaml
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if $k.sasl.mechanism }}
- name: kafka-sasl
  secret:
    secretName: {{ $k.sasl.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $k.sasl.passwordKey }}
        path: password
{{- end }}
{{- if $k.tls.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ $k.tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $k.tls.caKey }}
        path: ca.crt
      {{- if $k.tls.certKey }}
      - key: {{ $k.tls.certKey }}
        path: tls.crt
      - key: {{ $k.tls.keyKey }}
        path: tls.key
      {{- end }}
{{- end }}
{{- end -}}

{{- define "hookgate.volumeMounts" -}}
{{- $k := .Values.kafka -}}
# A directory mount (not subPath), so a ConfigMap change reaches the running container.
- name: config
  mountPath: {{ include "hookgate.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if $k.sasl.mechanism }}
- name: kafka-sasl
  mountPath: {{ include "hookgate.saslDir" . }}
  readOnly: true
{{- end }}
{{- if $k.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ include "hookgate.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Default topology spread: soft over zones and nodes (dict "labels" selectorLabelsYaml). */}}
{{- define "hookgate.topologySpread" -}}
{{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
- maxSkew: 1
  topologyKey: {{ . }}
  whenUnsatisfiable: ScheduleAnyway
  matchLabelKeys: [pod-template-hash]
  labelSelector:
    matchLabels:
      {{- $.labels | nindent 6 }}
{{- end }}
{{- end -}}

{{/* A probe on the named port "http": (dict "path" "/healthz" "p" probeValues). */}}
{{- define "hookgate.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ default "http" .port }}
periodSeconds: {{ .p.periodSeconds }}
timeoutSeconds: {{ .p.timeoutSeconds }}
failureThreshold: {{ .p.failureThreshold }}
{{- end -}}

{{/* The consumers with consumerDefaults merged under each entry, as a YAML list (fromYamlArray it). */}}
{{- define "hookgate.consumers" -}}
{{- $out := list -}}
{{- $names := dict -}}
{{- range $i, $c := .Values.consumers -}}
{{- if hasKey $names $c.name -}}
{{- fail (printf "consumers[%d].name: %q is used twice" $i $c.name) -}}
{{- end -}}
{{- $_ := set $names $c.name true -}}
{{- $m := mergeOverwrite (deepCopy $.Values.consumerDefaults) (deepCopy $c) -}}
{{- if not $m.groupId -}}
{{- $_ := set $m "groupId" (printf "%s-%s" $.Values.kafka.topics.prefix $c.name) -}}
{{- end -}}
{{- if and $m.topics $m.topicPattern -}}
{{- fail (printf "consumers[%d].topics: set topics or topicPattern, not both" $i) -}}
{{- end -}}
{{- if and (not $m.topics) (not $m.topicPattern) -}}
{{- $_ := set $m "topicPattern" (printf "^%s\\." (regexQuoteMeta $.Values.kafka.topics.prefix)) -}}
{{- end -}}
{{- $_ := set $m "existingConfigMap" (default "" $m.existingConfigMap) -}}
{{- $_ := set $m "existingConfigMapKey" (default "config.yaml" $m.existingConfigMapKey) -}}
{{- $_ := set $m "handlers" (default list $m.handlers) -}}
{{- $_ := set $m "index" $i -}}
{{- $_ := set $m "fullName" (include "hookgate.componentName" (dict "ctx" $ "suffix" (printf "consumer-%s" $c.name))) -}}
{{- $out = append $out $m -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* A consumer's config file (dict "ctx" $ "c" mergedConsumer "workflows" bool). */}}
{{- define "hookgate.consumerConfig" -}}
{{- $c := .c -}}
{{- $s := merge (dict "group_id" $c.groupId "listen" (dict "host" "0.0.0.0" "port" $c.containerPort) "log_level" $c.logLevel "shutdown_grace_seconds" $c.shutdownGraceSeconds "workers" $c.workers) (deepCopy $c.settings) -}}
{{- if $c.topics }}{{ $_ := set $s "topics" $c.topics }}{{ else }}{{ $_ := set $s "topic_pattern" $c.topicPattern }}{{ end -}}
{{- if $c.reloadWorkflows }}{{ $_ := set $s "reload_interval_seconds" $c.reloadIntervalSeconds }}{{ end -}}
{{- /* settings.group.start, when given, wins over the entry's start. */ -}}
{{- $_ := set $s "group" (merge (deepCopy (default dict $s.group)) (dict "start" $c.start)) -}}
{{- $doc := dict "consumer" $s "kafka" (include "hookgate.kafkaConfig" .ctx | fromYaml) -}}
{{- if .workflows }}{{ $_ := set $doc "workflows" (default list $c.workflows) }}{{ end -}}
{{- toYaml $doc -}}
{{- end -}}

{{/* The gateway's config file. */}}
{{/* Where the admin tokens file (gateway.admin.tokensSecret) is mounted. */}}
{{- define "hookgate.adminDir" -}}/etc/hookgate/admin{{- end -}}

{{- define "hookgate.gatewayConfig" -}}
{{- $g := .Values.gateway -}}
{{- if eq (int $g.opsPort) (int $g.containerPort) -}}
{{- fail "gateway.opsPort: must differ from gateway.containerPort (the ops listener is a port of its own)" -}}
{{- end -}}
{{- $s := merge (dict "listen" (dict "host" "0.0.0.0" "port" $g.containerPort) "ops_listen" (dict "host" "0.0.0.0" "port" $g.opsPort) "log_level" $g.logLevel "shutdown_grace_seconds" $g.shutdownGraceSeconds "workers" $g.workers) (deepCopy $g.settings) -}}
{{- if $g.reloadTriggers }}{{ $_ := set $s "reload_interval_seconds" $g.reloadIntervalSeconds }}{{ end -}}
{{- if $g.admin.enabled -}}
{{- if gt (int $g.workers) 1 -}}
{{- fail "gateway.admin.enabled: needs gateway.workers: 1 (each worker would answer the API from its own view of the trigger topic; docs/operations.md)" -}}
{{- end -}}
{{- if not $g.admin.tokensSecret -}}
{{- fail "gateway.admin.tokensSecret: name the Secret holding the admin tokens file (docs/admin.md)" -}}
{{- end -}}
{{- if or (eq (int $g.admin.port) (int $g.containerPort)) (eq (int $g.admin.port) (int $g.opsPort)) -}}
{{- fail "gateway.admin.port: must differ from gateway.containerPort and gateway.opsPort" -}}
{{- end -}}
{{- $_ := set $s "admin" (merge (dict "listen" (dict "host" "0.0.0.0" "port" $g.admin.port) "tokens_file" (printf "%s/tokens.yaml" (include "hookgate.adminDir" .))) (deepCopy $g.admin.settings)) -}}
{{- end -}}
{{- toYaml (dict "gateway" $s "kafka" (include "hookgate.kafkaConfig" . | fromYaml) "triggers" (default list $g.triggers)) -}}
{{- end -}}

{{/* Topic of a tenant (or a trigger's topic override), as hookgate names it. */}}
{{- define "hookgate.topicFor" -}}
{{- $t := .template | replace "{prefix}" .prefix | replace "{tenant}" .tenant -}}
{{- regexReplaceAll "[^a-zA-Z0-9._-]" $t "_" -}}
{{- end -}}

{{/* Every topic hookgate reads or writes, with who does what, as YAML: [{topic, use}]. */}}
{{- define "hookgate.topics" -}}
{{- $k := .Values.kafka.topics -}}
{{- $out := list -}}
{{- $seen := dict -}}
{{- range .Values.gateway.triggers -}}
{{- $t := include "hookgate.topicFor" (dict "template" (default $k.template .topic) "prefix" $k.prefix "tenant" .tenant) -}}
{{- if not (hasKey $seen $t) -}}
{{- $_ := set $seen $t true -}}
{{- $out = append $out (dict "topic" $t "use" "events: gateway writes, consumers read") -}}
{{- end -}}
{{- end -}}
{{- if dig "audit" "topic" false .Values.gateway.settings -}}
{{- $out = append $out (dict "topic" (printf "%s._audit" $k.prefix) "use" "audit records: gateway writes") -}}
{{- end -}}
{{- if dig "catalog" "enabled" true .Values.gateway.settings -}}
{{- $out = append $out (dict "topic" (printf "%s._triggers" $k.prefix) "use" "runtime trigger definitions (compacted): written and read by every gateway replica") -}}
{{- end -}}
{{- range (include "hookgate.consumers" . | fromYamlArray) -}}
{{- $dl := dig "dead_letter" "topic" "" .settings | default (printf "%s._deadletter.%s" $k.prefix .groupId) -}}
{{- $out = append $out (dict "topic" $dl "use" (printf "dead letters of group %s: written by consumer %s, read by hookgate replay" .groupId .name)) -}}
{{- if dig "dedupe" "enabled" true .settings -}}
{{- $dd := dig "dedupe" "topic" "" .settings | default (printf "%s._dedupe.%s" $k.prefix .groupId) -}}
{{- $out = append $out (dict "topic" $dd "use" (printf "dedupe changelog (compacted) of group %s: written and read by consumer %s" .groupId .name)) -}}
{{- end -}}
{{- $out = append $out (dict "topic" (printf "%s._deadletter_state.%s" $k.prefix .groupId) "use" (printf "dead-letter resolutions (compacted, 1 partition) of group %s: written by consumer %s and hookgate replay" .groupId .name)) -}}
{{- $out = append $out (dict "topic" (printf "%s._redrive.%s" $k.prefix .groupId) "use" (printf "re-drives of group %s (as many partitions as its dedupe changelog): written by hookgate replay, read by consumer %s" .groupId .name)) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The ports of a consumer's workflow targets (from each http action's URL), as JSON. */}}
{{- define "hookgate.workflowPorts" -}}
{{- $ports := list -}}
{{- range .workflows -}}
{{- $url := dig "action" "url" "" . -}}
{{- $authority := regexFind "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*" $url -}}
{{- if $authority -}}
{{- $port := regexFind ":[0-9]+$" (regexReplaceAll "^.*@" (regexReplaceAll "^[^:]*://" $authority "") "") -}}
{{- if $port -}}
{{- $ports = append $ports (atoi (trimPrefix ":" $port)) -}}
{{- else -}}
{{- $ports = append $ports (ternary 443 80 (hasPrefix "https" (lower $url))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (uniq $ports) -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: above preStop plus the service's shutdown grace. */}}
{{- define "hookgate.terminationGrace" -}}
{{- add (int .preStopSleepSeconds) (int (ceil .shutdownGraceSeconds)) 10 -}}
{{- end -}}
