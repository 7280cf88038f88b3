"""Publishing: pygeoapi configuration, the CIM provider, serving with gunicorn."""
