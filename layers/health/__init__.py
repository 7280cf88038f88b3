"""City health check (城市体检, issue 13): indicators as data, computed per district and city.

``catalog`` reads ``cim/dictionaries/health_indicators.yaml`` and checks its parameters
(``params``); ``templates`` holds the named computations it may use (set-based SQL over the
shared ``parts``; ``service_coverage`` for road-network coverage, measured by ``distance``);
``compute`` compares and indexes; ``store`` keeps each year (``health_runs``,
``health_indicators``); ``report`` writes the HTML report; ``process`` is the OGC API Process
``health-compute``.
"""
