"""The shared core: cameras, networks, renderer, encoders, bundles and exporters."""
