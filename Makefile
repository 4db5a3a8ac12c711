# Two commands matter: `make reproduce` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PY := .venv/bin/python
NB_OUT ?= reports

.PHONY: reproduce standard long contest test bootstrap unit typecheck lint format notebooks-ci lab ui-test bench clean-data stress explorer

bootstrap:
	@bash scripts/bootstrap.sh

# The main job on its small default configuration.
reproduce: bootstrap
	bash scripts/reproduce.sh

# Notebooks 06 (every architecture, plain and warp, 3 seeds) and 07 (noise): hours on 2 cores.
contest: bootstrap
	.venv/bin/python scripts/execute_notebooks.py --out reports notebooks/06_architectures.ipynb notebooks/07_noise.ipynb

# Three seeds of plain tracing, every freeze arm at 300,000 images, and the sweep (~3 h on 2 cores; resumable).
standard: bootstrap
	AMIDA_BUDGET=standard bash scripts/reproduce.sh

# The warp at 1,000,000 images a run (~4.5 h on 2 cores; untested on a GPU); interrupted runs resume; stage 1 is copied from standard.
long: bootstrap
	AMIDA_BUDGET=long bash scripts/reproduce.sh

test: bootstrap typecheck lint unit notebooks-ci

typecheck:
	npx --no-install tsc --noEmit -p .
	@# As tslab compiles notebook imports (no strictNullChecks): a union on a boolean does not narrow there.
	npx --no-install tsc --noEmit -p . --strictNullChecks false --noImplicitAny false

# House style: prettier (100 columns) checks, a type-aware eslint; `make format` rewrites.
lint:
	npx --no-install prettier --check --log-level warn .
	npx --no-install eslint .

format:
	npx --no-install prettier --write --log-level warn .

unit:
	node --import tsx --test --test-reporter=spec test/*.test.ts

# The browser tests alone (also part of `unit`): Debian's chromium driven by Playwright's library,
# offline. A JupyterLab session on notebook 02 at the tiny budget (Busy/Idle, plotly hover before
# and after reopening, a readable config error) and a rendered report opened from disk.
ui-test: bootstrap
	node --import tsx --test --test-reporter=spec test/lab.test.ts test/reports.test.ts

# Every notebook, headless, on a tiny configuration: a failing cell fails the tests.
notebooks-ci:
	bash scripts/notebooks-ci.sh

# Rooted at the project, so runs/ and reports/ (interactive curves, HTML reports) are in the file
# browser; opens on notebook 00. JupyterLab refuses root unless told; containers run as root.
lab: bootstrap
	.venv/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_overview.ipynb $(if $(filter 0,$(shell id -u)),--allow-root,)

# Every installed backend; --profile adds each one's top-10 kernels per model.
bench: bootstrap
	node --import tsx bench/generate.ts
	node bin/amida.js bench train --profile

# The explorer page (README, "The explorer") for the quick experiment's seed-0 stage-1 runs, after
# `make reproduce`; EXPLORE_RUNS=... for others (finished runs of one difficulty and image size).
EXPLORE_RUNS ?= runs/quick/cnn-stage1-s0 runs/quick/vit-stage1-s0
explorer: bootstrap
	node bin/amida.js explore $(EXPLORE_RUNS) --out reports/explorer.html

# kill -9 at random points of generate and train, N times; not part of `make test` (minutes).
N ?= 50
stress: bootstrap
	nice -n 10 node --import tsx scripts/stress.ts $(N)

clean-data:
	rm -rf data/*/ reports/ runs/
