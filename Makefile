# Two commands: `make demo` (set up everything, load the samples, serve the OGC API) and
# `make test`. Both install what is missing and are safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000
SAMPLES := data_samples/jining

.PHONY: demo test system system-test venv db lint serve clean stop assets port-free

# every load prints its batch's summary (read, loaded, rejected and flagged by reason); the pipe
# loads go without --quiet, so that their survey QA is printed in full
demo: system venv port-free db
	@mkdir -p .cim  # the reports and the QGIS project below (absent when the cluster lives elsewhere)
	$(BIN)/cim load buildings $(SAMPLES)/buildings/buildings_survey.shp --quiet
	$(BIN)/cim load pipes $(SAMPLES)/pipes
	$(BIN)/cim load pipes --lines $(SAMPLES)/pipes_gis/old_water_main.gpkg:pipes \
		--points $(SAMPLES)/pipes_gis/old_water_main.gpkg:nodes --class 给水 --dataset old_water_main
	for f in points lines polygons; do \
		$(BIN)/cim load components $(SAMPLES)/components/components_$$f.shp --quiet || exit 1; done
	$(BIN)/cim load planning $(SAMPLES)/planning/planning.gpkg --layer parcels --kind parcels --quiet
	$(BIN)/cim load planning $(SAMPLES)/planning/planning.gpkg --layer control_lines --kind control_lines --quiet
	$(BIN)/cim load planning $(SAMPLES)/planning/planning.gpkg --layer height_zones --kind height_zones --quiet
	$(BIN)/cim load roads $(SAMPLES)/base/roads.gpkg --quiet
	$(BIN)/cim load green $(SAMPLES)/base/green_spaces.gpkg --quiet
	$(BIN)/cim load facilities $(SAMPLES)/base/facilities.gpkg --quiet
	$(BIN)/cim load population $(SAMPLES)/base/population.gpkg --quiet
	$(BIN)/cim health compute --year 2026 --report .cim/health_2026.html
	$(BIN)/cim risk assess --year 2026 --report .cim/risk_2026.html
	$(BIN)/cim load sensors $(SAMPLES)/sensors/sensors.csv --quiet
	$(BIN)/cim iot partitions
	$(BIN)/cim iot import $(SAMPLES)/sensors/readings_day.csv
	$(BIN)/cim iot gaps --now 2026-06-15T23:59:00+08:00
	CIM=$(BIN)/cim PY=$(BIN)/python CIM_DEMO_TOKENS=.cim/demo-tokens.txt ./scripts/demo-cases.sh
	$(BIN)/cim styles apply > /dev/null
	$(BIN)/cim qgis-project .cim/onemap.qgs --service-file .cim/pg_service.conf
	@echo
	@echo "Loaded the Jining sample district. Reports: .cim/health_2026.html (城市体检), .cim/risk_2026.html (风险清单)."
	@echo "QGIS: export PGSERVICEFILE=$(CURDIR)/.cim/pg_service.conf, then open $(CURDIR)/.cim/onemap.qgs"
	@[ ! -s .cim/demo-tokens.txt ] || echo "Case loop (运管服) users and their tokens, for Authorization: Bearer TOKEN on POST /cases…: .cim/demo-tokens.txt"
	@echo "Serving the OGC API and the web map at the addresses below (Ctrl-C stops the server, make stop also the cluster)."
	$(BIN)/cim serve --port $(PORT)

test: system-test venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

system:
	@./scripts/ensure-system.sh

system-test:
	@./scripts/ensure-system.sh --test

# PYTHONWARNINGS: every editable install prints setuptools' boxed "Editable installation"
# notice (folders of the working directory may shadow the package: here they are the package)
$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	PYTHONWARNINGS=ignore:::setuptools.command.editable_wheel \
		$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

db: venv
	$(BIN)/cim db start
	$(BIN)/cim db upgrade
	$(BIN)/cim profile apply --quiet

# refuses before the loads, not a minute later at `cim serve`, when PORT is taken (another
# checkout's demo, this one's left in the background), with `cim serve`'s own message
port-free: venv
	@$(BIN)/python -c 'import sys; from cim.config import Settings; from services.cli import _port_in_use; \
		host = Settings().host; why = _port_in_use(host, $(PORT)); \
		why and sys.exit(f"cannot serve on {host}:$(PORT): {why} — another server listens there " \
		"(`make stop` stops this checkout'"'"'s); choose another port: PORT=8080 make demo")'

# the web map's vendored front-end files (MapLibre, Leaflet, Bootstrap, Swagger UI, glyphs,
# pygeoapi's offline templates) are in the repository; this refreshes them from npm (needs npm)
assets: venv
	$(BIN)/python scripts/webmap_assets.py

lint: venv
	$(BIN)/ruff check .

serve: venv
	$(BIN)/cim serve --port $(PORT)

# stops the OGC API servers of this checkout (`make demo`/`make serve`, also one left running in
# the background: their pid files under the CIM home) and then the embedded cluster; Ctrl-C
# stops the foreground server only
stop:
	@for f in "$${CIM_HOME:-.cim}"/gunicorn-*.pid; do \
		[ -f "$$f" ] || continue; pid=$$(cat "$$f"); \
		if ps -o args= -p "$$pid" 2>/dev/null | grep -q gunicorn; then \
			echo "stopping the OGC API server (pid $$pid)"; kill -TERM "$$pid"; \
			for i in $$(seq 1 200); do [ -f "$$f" ] && kill -0 "$$pid" 2>/dev/null || break; \
				sleep 0.2; done; \
		fi; rm -f "$$f"; done
	-$(BIN)/cim db stop

# as root in a checkout the postgres user cannot reach (under /root), the cluster lives in
# /var/tmp/cim-cluster-* (cim/db/cluster.py): removed too, or the next `make demo` found the old
# database there
clean: stop
	@home=$$($(BIN)/cim db status --json 2>/dev/null | \
		$(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["home"])' 2>/dev/null); \
	case "$$home" in /var/tmp/cim-cluster-*) echo "rm -rf $$home"; rm -rf "$$home";; esac
	rm -rf $(VENV) .cim *.egg-info
