"""covet.core: the request kernel (app, routing, requests, responses, dependencies, errors).

It imports nothing from the rest of covet; the features beside it import it. What the kernel
needs from a feature it asks for through :mod:`covet.core.services`.
"""
