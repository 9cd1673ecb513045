# stationwatch: `make demo` runs the demo evaluation, `make test` the test suite.
# Both create .venv on first use and install what they need (torch pinned first: its CPU
# build lies on local disk; an unpinned torch would download a multi-GB CUDA build), and the
# other packages at the versions of constraints.txt, so that a fresh clone computes the pinned numbers.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml constraints.txt examples/example_plugin/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	# the example detector plug-in: the tests load it through its entry point
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e examples/example_plugin
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/stationwatch demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests notebooks --nbmake --nbmake-timeout=300

bench: $(STAMP)
	$(PY) -m pip install --quiet --no-deps jupedsim shapely deprecated wrapt  # the crowd peer (LGPL), benchmarks only
	$(PY) benchmarks/bench_sim.py
	$(PY) benchmarks/bench_realism.py --quick
	$(PY) benchmarks/bench_raster.py
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_detect.py
	$(PY) benchmarks/bench_detect.py --all
	$(PY) benchmarks/bench_grid.py --quick
	$(PY) -m pytest -q benchmarks --benchmark-only

clean:
	rm -rf runs .pytest_cache
