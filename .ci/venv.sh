# Sourced by ./run and ./test: create .venv with Python 3.11 if missing and install the
# project (editable) when setup.cfg changed since the last install.
ensure_venv() {
    local extras="$1" stamp=".venv/.installed${1:+-test}"
    if [ ! -x .venv/bin/python ]; then
        local py
        py="$(command -v python3.11 || true)"
        if [ -z "$py" ] && python3 -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
                2>/dev/null; then
            py="$(command -v python3)"
        fi
        if [ -z "$py" ]; then
            echo "error: Python 3.11 is required (python3.11 not found)" >&2
            exit 1
        fi
        "$py" -m venv .venv
        rm -f .venv/.installed*
    fi
    if [ ! -f "$stamp" ] || [ ! -x .venv/bin/idp ] || [ setup.cfg -nt "$stamp" ] \
            || [ pyproject.toml -nt "$stamp" ]; then
        echo "installing dependencies into .venv ..." >&2
        # setuptools warns about every data folder (templates/, data/ ...): keep the log and
        # show it only if the installation fails.
        if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".$extras" \
                >.venv/pip-install.log 2>&1; then
            cat .venv/pip-install.log >&2
            echo "error: installation failed (log: .venv/pip-install.log)" >&2
            exit 1
        fi
        touch "$stamp"
    fi
}

# Browser tests (tests/browser) drive Debian's Chromium, never a downloaded one. When it is
# missing and we are root, install it (bounded, quiet); otherwise those tests skip with a
# message (and fail under CI=true, see tests/browser/conftest.py).
ensure_chromium() {
    local chromium="${IDP_TEST_CHROMIUM:-/usr/bin/chromium}"
    [ -x "$chromium" ] && return 0
    if [ "$chromium" = /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ] \
            && command -v apt-get >/dev/null 2>&1; then
        echo "installing Chromium for the browser tests (apt-get install chromium) ..." >&2
        if ! timeout 900 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq chromium' >.venv/apt-chromium.log 2>&1; then
            echo "warning: installing Chromium failed (log: .venv/apt-chromium.log)" >&2
        fi
    fi
    [ -x "$chromium" ] || echo "warning: $chromium not found: browser tests will be skipped" \
        "(they fail under CI=true)" >&2
    return 0
}
