# Sourced by ./test: the lint stage that runs before pytest (issue 13 item 6).
#   import-linter  the layers and "no cycles" contracts (.importlinter)
#   ruff           style and imports (pyproject.toml [tool.ruff])
#   mypy           types: strict on idp.interaction and idp.methods (pyproject.toml [tool.mypy])
# Every check runs (so one run shows every kind of violation); the stage fails if any failed.
# IDP_SKIP_LINT=1 skips it for a quick local partial run; never under CI (CI=true).
run_lint() {
    local skip="${IDP_SKIP_LINT:-}"
    # The IdP refuses unknown IDP_* settings in its environment (idp.platform.config): the
    # tests that follow must not see this one.
    unset IDP_SKIP_LINT
    if [ "$skip" = 1 ]; then
        if [ "${CI:-}" = true ]; then
            echo "lint: IDP_SKIP_LINT is ignored under CI=true" >&2
        else
            echo "lint: skipped (IDP_SKIP_LINT=1); ./test runs it unless told otherwise" >&2
            return 0
        fi
    fi
    local failed=() started=$SECONDS
    # Caches live in .venv (ignored by git): a warm run takes a few seconds.
    .venv/bin/lint-imports --no-logo --cache-dir .venv/.import_linter_cache .importlinter \
        >.venv/lint-imports.log 2>&1 || { cat .venv/lint-imports.log; failed+=(import-linter); }
    .venv/bin/ruff check --quiet --output-format concise idp portals standins tests tools bench || failed+=(ruff)
    local typed=()
    for package in idp/interaction idp/methods; do
        [ -d "$package" ] && typed+=("$package")
    done
    .venv/bin/mypy --no-error-summary "${typed[@]}" || failed+=(mypy)
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "lint: FAILED (${failed[*]}) in $((SECONDS - started)) s; fix the findings above" \
            "(IDP_SKIP_LINT=1 skips this stage for a local partial run)" >&2
        return 1
    fi
    echo "lint: import contracts, ruff and mypy passed in $((SECONDS - started)) s" >&2
}
