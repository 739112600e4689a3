"""The local stack for `make run` and system tests: Tansu broker, topics, service processes."""

from caseplatform.devstack.broker import BrokerFailed, TansuBroker
from caseplatform.devstack.ports import PortInUse, ensure_port_free, free_port, free_ports
from caseplatform.devstack.stack import DevStack, Endpoint, ServiceFailed

__all__ = [
    "BrokerFailed",
    "DevStack",
    "Endpoint",
    "PortInUse",
    "ServiceFailed",
    "TansuBroker",
    "ensure_port_free",
    "free_port",
    "free_ports",
]
