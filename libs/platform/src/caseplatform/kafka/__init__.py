"""Kafka plumbing shared by every service: topic administration now; relay and consumer later."""

from caseplatform.kafka.admin import BrokerUnavailable, ensure_topics, wait_for_broker

__all__ = ["BrokerUnavailable", "ensure_topics", "wait_for_broker"]
