# Sourced by the other scripts: find or install uv, then sync the locked environment.
# Works on a fresh machine that has Python >= 3.12 as python3 (or findable by uv) and PyPI.
set -euo pipefail
SYNC_ARGS=("${SYNC_ARGS[@]+"${SYNC_ARGS[@]}"}")  # default: the dev group and every extra
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export UV_PYTHON_DOWNLOADS=never  # only PyPI is reachable: use an installed interpreter

uv_works() { "$1" --version >/dev/null 2>&1; }

find_uv() {
  if command -v uv >/dev/null 2>&1 && uv_works uv; then echo uv; return; fi
  if [ -x .bootstrap/bin/uv ] && uv_works .bootstrap/bin/uv; then echo .bootstrap/bin/uv; return; fi
  echo "steprail: installing uv into .bootstrap/ (one time)" >&2
  if python3 -m venv .bootstrap >/dev/null 2>&1; then
    .bootstrap/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9" >&2
    echo .bootstrap/bin/uv
    return
  fi
  rm -rf .bootstrap
  # No venv module (Debian without python3-venv): a user install is the fallback.
  python3 -m pip install --quiet --user --break-system-packages "uv==0.13.9" >&2
  echo "$(python3 -m site --user-base)/bin/uv"
}

UV=$(find_uv)
if ! PYTHON=$("$UV" python find '>=3.12' 2>/dev/null); then
  echo "steprail needs Python >= 3.12; install one (for example python3.12 or python3.13)" >&2
  exit 2
fi
# A script may set SYNC_ARGS (an array) before sourcing this file to install less (./scripts/demo).
"$UV" sync --locked --quiet --python "$PYTHON" "${SYNC_ARGS[@]}"
# The packaging tests build the wheel and install it in a clean virtualenv with this uv.
STEPRAIL_UV=$(command -v "$UV")
case $STEPRAIL_UV in /*) ;; *) STEPRAIL_UV="$PWD/$STEPRAIL_UV" ;; esac
export STEPRAIL_UV
export PATH="$PWD/.venv/bin:$PATH"  # pytest-mypy-plugins runs the venv's mypy from PATH
