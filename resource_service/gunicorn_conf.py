"""Gunicorn settings of the resource service: `gunicorn -c resource_service/gunicorn_conf.py`.

`python -m resource_service serve` runs with these too. From the environment: RESOURCE_HOST,
RESOURCE_PORT, WEB_CONCURRENCY and PROMETHEUS_MULTIPROC_DIR (see README, Operations).
"""

from resource_service.config import ADDRESS_PREFIX, DEFAULT_PORT
from shared.metrics import prepare_multiprocess_dir
from shared.serve import gunicorn_settings

settings = gunicorn_settings("resource_service", env_prefix=ADDRESS_PREFIX, default_port=DEFAULT_PORT)
prepare_multiprocess_dir("resource_service")  # before the app is built or a worker forks
globals().update(settings)  # gunicorn reads a config file's module-level names
