"""WebSocket transports: the central system's server and the charge point's client."""
