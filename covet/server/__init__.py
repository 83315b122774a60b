"""covet.server: the HTTP/1.1 wire layer (http11), the asyncio server and the worker manager."""
