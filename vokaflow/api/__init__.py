"""The HTTP gateway: FastAPI routers served as a Ray Serve ingress."""
