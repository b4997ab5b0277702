"""Samples: what one real job saw, kept beside the recipe, and the datapill checks built on it."""
