"""hookgate: a Kafka-backed webhook trigger gateway.

Packages:
    hookgate.core      what the gateway and the consumers share (envelope, config, Kafka, logging, metrics)
    hookgate.gateway   the HTTP ingress: route, verify, parse, normalize, produce
    hookgate.consumer  consumer groups that fan events out to workflows, at least once and never twice
"""

__version__ = "0.1.0"
