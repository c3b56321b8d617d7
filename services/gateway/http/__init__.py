"""The HTTP edge: the aiohttp application and its lifecycle, the webhook handler, JSON errors, TLS."""
