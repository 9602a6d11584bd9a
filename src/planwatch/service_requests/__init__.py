"""Citizens' requests and public-service demand: Open311 GeoReport v2, the 12345 workflow,
metrics, demand surveys and supply–demand matching."""
