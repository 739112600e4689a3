"""Kafka plumbing shared by every service: topic administration (the relay and the
tracked consumer live in caseplatform.relay and caseplatform.consumer)."""

from caseplatform.kafka.admin import BrokerUnavailable, ensure_topics, wait_for_broker

__all__ = ["BrokerUnavailable", "ensure_topics", "wait_for_broker"]
