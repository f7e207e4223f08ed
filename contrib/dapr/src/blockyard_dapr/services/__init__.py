"""gRPC servicers of Dapr's pluggable-component protocol, one module per building block."""
