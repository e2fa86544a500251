# The two commands of the README. Each does its own idempotent set-up first.
.PHONY: setup demo test
setup:
	bash infra/setup.sh
demo: setup
	npx mmedpo demo
test: setup
	bash infra/test.sh
