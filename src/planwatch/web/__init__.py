"""The web adapter: JSON API and server-rendered pages over the feature services."""
