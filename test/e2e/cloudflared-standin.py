#!/usr/bin/env python3
"""Stand-in for the cloudflared binary in the e2e container (the real one cannot be downloaded here).

It answers `--version` like cloudflared, and for `tunnel --no-autoupdate --config F run --token-file T`
it checks what the real binary would refuse to start without: a readable config with an ingress list
ending in a catch-all, and a token file holding cloudflared's token format (base64 JSON with a, t, s).
Then it tells systemd it is ready (Type=notify) and stays up until SIGTERM, logging one line a minute.
"""
import base64, json, os, signal, socket, sys, time

VERSION = "2026.8.2"


def fail(msg: str) -> None:
    print(f"ERR {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def arg(args: list, name: str):
    if name in args:
        i = args.index(name)
        if i + 1 < len(args):
            return args[i + 1]
    return None


def check_config(path: str) -> None:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        fail(f"cannot read config {path}: {e.strerror}")
    if "\ningress:" not in "\n" + text:
        fail("The config file doesn't contain any ingress rules")
    # The last rule must be the catch-all (cloudflared ingress/ingress.go validateIngress).
    rules = [l.strip() for l in text.splitlines() if l.strip().startswith("- ")]
    if not rules or "http_status:" not in rules[-1]:
        fail("The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)")


def check_token(path: str) -> None:
    try:
        raw = open(path, encoding="utf-8").read().strip()
    except OSError as e:
        fail(f"cannot read token file {path}: {e.strerror}")
    try:
        tok = json.loads(base64.b64decode(raw))
        assert all(k in tok for k in ("a", "t", "s"))
    except Exception:
        fail("Provided Tunnel token is not valid.")


def notify(state: str) -> None:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(state.encode())


def main() -> None:
    args = sys.argv[1:]
    if args[:1] in (["--version"], ["version"]):
        print(f"cloudflared version {VERSION} (built 2026-08-20-0000 UTC)")
        return
    if "tunnel" not in args or "run" not in args:
        fail(f"stand-in supports only --version and tunnel run, got: {' '.join(args)}")
    if "--token" in args:
        fail("refusing --token on the command line: use --token-file")
    config, token_file = arg(args, "--config"), arg(args, "--token-file")
    if not config or not token_file:
        fail("need --config and --token-file")
    check_config(config)
    check_token(token_file)
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    print(f"INF Starting tunnel (stand-in {VERSION}) with config {config}", flush=True)
    notify("READY=1")
    while running:
        time.sleep(1)
    print("INF Tunnel stopped", flush=True)


main()
