# Two commands matter: `make reproduce` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PY := .venv/bin/python
NB_OUT ?= reports

.PHONY: reproduce test bootstrap unit typecheck notebooks-ci lab bench clean-data

bootstrap:
	@bash scripts/bootstrap.sh

# The main job on its small default configuration.
reproduce: bootstrap
	bash scripts/reproduce.sh

test: bootstrap typecheck unit notebooks-ci

typecheck:
	npx --no-install tsc --noEmit -p .

unit:
	node --import tsx --test --test-reporter=spec test/*.test.ts

# Every notebook, headless, on a tiny configuration: a failing cell fails the tests.
notebooks-ci:
	bash scripts/notebooks-ci.sh

# JupyterLab refuses root unless told; containers and these CI machines run as root.
lab: bootstrap
	.venv/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# Every installed backend; --profile adds each one's top-10 kernels per model.
bench: bootstrap
	node --import tsx bench/generate.ts
	node bin/amida.js bench train --profile

clean-data:
	rm -rf data/*/ reports/ runs/
