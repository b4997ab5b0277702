"""OpenAPI documents beside connections: offline checks of steps, datapills and step imports."""
