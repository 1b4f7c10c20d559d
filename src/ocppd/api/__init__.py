"""The operators' HTTP API under /api/v1 (Litestar), served as the OCPP app's fallback."""
