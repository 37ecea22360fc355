"""A stand-in for the province's unified identity platform (an OpenID Connect provider)."""
