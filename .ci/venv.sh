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

# System tests (tests/system) put Debian's nginx in front of two IdP nodes as the load
# balancer. When it is missing and we are root, install nginx-light (bounded, quiet);
# otherwise those tests skip with a message (and fail under CI=true, see
# tests/system/conftest.py). Only the binary is used: the tests run their own instance with
# their own configuration, so the packaged service is stopped and disabled (systemd).
ensure_nginx() {
    local nginx="${IDP_TEST_NGINX:-/usr/sbin/nginx}"
    [ -x "$nginx" ] && return 0
    if [ "$nginx" = /usr/sbin/nginx ] && [ "$(id -u)" -eq 0 ] \
            && command -v apt-get >/dev/null 2>&1; then
        echo "installing nginx for the system tests (apt-get install nginx-light) ..." >&2
        if ! timeout 600 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq nginx-light' >.venv/apt-nginx.log 2>&1; then
            echo "warning: installing nginx failed (log: .venv/apt-nginx.log)" >&2
        elif command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now nginx >/dev/null 2>&1 || true
        fi
    fi
    [ -x "$nginx" ] || echo "warning: $nginx not found: system tests will be skipped" \
        "(they fail under CI=true)" >&2
    return 0
}
