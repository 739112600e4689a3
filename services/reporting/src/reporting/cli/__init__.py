"""casectl: the command line for operations and regulators, over reporting's gRPC API."""
