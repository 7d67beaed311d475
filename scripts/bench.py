"""The fleet-scale benchmark behind scripts/bench (issue 18): run it through that script, which
builds what it needs and passes the binaries' paths in the environment.

For each catalog size N it clones examples/shop's HCL services under new names and measures
glidepath next to kubectl on the same rendered objects against the same fresh apiserver:

  live (control plane + moto):  apply from empty (wall, peak memory, requests, state bytes
                                written), the cluster no-change plan vs `kubectl diff
                                --server-side`, the AWS no-change plan, and `kubectl apply
                                --server-side` from empty on a second fresh apiserver;
  offline:                      validate, render --out and check.

Kubernetes requests are the apiserver's own apiserver_request_total (summed over every label,
the /metrics scrapes themselves left out), so glidepath and kubectl are counted by one meter.
kube-controller-manager is not started (CONTROL_PLANE_NO_KCM=1): its requests would be counted too.
State bytes are the bytes written to .glidepath/state.json* (file, temp files and journal), taken
from an strace of write calls, in a run of both applies from empty of its own (fresh apiserver and
moto): strace stops the process at every write, sockets included, so the timed applies are not traced.
"""

import argparse
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOP = os.path.join(REPO, "examples", "shop")
ENVS = ("dev", "staging", "prod")
CONTEXT = "glidepath-test"  # the control plane's kubeconfig context, for every environment


def say(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# The scaled catalog
# ------------------------------------------------------------------------------------------

SERVICE = re.compile(r'^service "([^"]+)" \{\n.*?^\}\n', re.S | re.M)
# Migration Jobs are awaited until Complete, and this control plane runs no Job controller
# (scripts/demo stands in for it; a stand-in's polling would be counted as requests here).
MIGRATIONS = re.compile(r"^  migrations \{\n.*?^  \}\n", re.S | re.M)


def shop_services():
    """(name, HCL block) of every service examples/shop declares in HCL (the YAML one is left out)."""
    blocks = []
    for name in ("payments.hcl", "storefront.hcl"):
        with open(os.path.join(SHOP, name)) as f:
            text = f.read()
        blocks += [(m.group(1), MIGRATIONS.sub("", m.group(0))) for m in SERVICE.finditer(text)]
    return blocks


def write_catalog(directory, n):
    """examples/shop's platform with N services: service i is template i mod 9, named NAME-i."""
    os.makedirs(directory)
    shutil.copy(os.path.join(SHOP, "platform.hcl"), directory)
    templates = shop_services()
    per_file = 50  # several files, as a real catalog is split
    for start in range(0, n, per_file):
        parts = []
        for i in range(start, min(n, start + per_file)):
            name, block = templates[i % len(templates)]
            clone = f"{name}-{i}"
            block = block.replace(f'service "{name}"', f'service "{clone}"', 1)
            block = re.sub(r'repo( +)= "acme/[^"]+"', rf'repo\1= "acme/{clone}"', block, count=1)
            parts.append(block)
        with open(os.path.join(directory, f"services-{start // per_file:03d}.hcl"), "w") as f:
            f.write("\n".join(parts))


# ------------------------------------------------------------------------------------------
# Measuring one command
# ------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    peak_mib: float
    code: int
    stderr: str
    requests: int = 0  # apiserver requests during the run
    state_bytes: int = 0  # written to state.json* (traced runs only)
    cpu: float = 0.0  # user + system seconds of the command and its children
    server_cpu: float = 0.0  # user + system seconds moto spent during the run (when passed)


def measure(cmd, env=None, cwd=None, plane=None, trace_state=False, ok=(0,), moto=None):
    """Runs CMD; wall time, CPU time and peak RSS of it and its children (wait4), apiserver
    request delta, and moto's CPU time meanwhile when MOTO is given."""
    before = plane.requests() if plane else 0
    moto_before = moto.cpu() if moto else 0.0
    trace = None
    if trace_state:
        trace = tempfile.NamedTemporaryFile(prefix="bench-strace.", delete=False).name
        cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-s", "0", "-o", trace,
               "-e", "trace=write,writev,pwrite64,pwritev,pwritev2"] + cmd
    err = tempfile.TemporaryFile()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    if proc.returncode not in ok:
        say(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{stderr[-3000:]}")
        raise SystemExit(1)
    run = Run(wall=wall, peak_mib=usage.ru_maxrss / 1024, code=proc.returncode, stderr=stderr,
              cpu=usage.ru_utime + usage.ru_stime)
    if moto:
        run.server_cpu = moto.cpu() - moto_before
    if plane:
        run.requests = plane.requests() - before
    if trace:
        run.state_bytes = state_bytes_written(trace)
        os.unlink(trace)
    return run


WRITE = re.compile(r"^\d+\s+\w+\(\d+<([^>]*)>.*\)\s+= (\d+)$")


def state_bytes_written(trace):
    """Bytes written to files named state.json* (the state, its temp files, its journal)."""
    total = 0
    with open(trace) as f:
        for line in f:
            m = WRITE.match(line.rstrip())
            if m and os.path.basename(m.group(1)).startswith("state.json"):
                total += int(m.group(2))
    return total


def counted(stderr, what):
    """A total from glidepath --stats ("AWS API calls: 50 (...)"), 0 when not printed."""
    m = re.search(rf"{what}: (\d+)", stderr)
    return int(m.group(1)) if m else 0


# ------------------------------------------------------------------------------------------
# The servers
# ------------------------------------------------------------------------------------------


class Plane:
    """scripts/control-plane up/down in a directory of ours, and its request counter."""

    def __init__(self, directory):
        self.dir = directory
        env = dict(os.environ, CONTROL_PLANE_NO_KCM="1")
        out = subprocess.run([os.path.join(REPO, "scripts", "control-plane"), "up", directory],
                             env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
        self.kubeconfig = out.strip().splitlines()[-1].split("=", 1)[1]
        with open(os.path.join(directory, "server")) as f:
            self.server = f.read().strip()
        pki = os.path.join(directory, "pki")
        self.tls = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.tls.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def requests(self):
        """apiserver_request_total summed over all series, without the /metrics scrapes."""
        with urllib.request.urlopen(self.server + "/metrics", context=self.tls, timeout=30) as r:
            text = r.read().decode()
        total = 0
        for line in text.splitlines():
            if line.startswith("apiserver_request_total{") and 'path="/metrics"' not in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def down(self):
        subprocess.run([os.path.join(REPO, "scripts", "control-plane"), "down", self.dir],
                       check=False, stderr=subprocess.DEVNULL)


class Moto:
    def __init__(self, log):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        self.proc = subprocess.Popen([os.environ["MOTO_SERVER"], "-H", "127.0.0.1", "-p", str(self.port)],
                                     env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(self.url + "/moto-api/", timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.1)
            raise SystemExit("bench: moto did not start")
        except BaseException:  # not ready, or interrupted: leave no server behind
            self.stop()
            raise

    def cpu(self):
        """User + system seconds the server has used so far (all its threads): moto answers in
        Python, one call at a time whatever the number of threads (the GIL), so the CPU time
        it spends on a client's calls is the least wall time those calls can take."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


# ------------------------------------------------------------------------------------------
# One catalog size against live servers
# ------------------------------------------------------------------------------------------


@dataclass
class Live:
    n: int
    objects: int = 0
    aws_resources: int = 0
    state_size: int = 0  # of state.json after both applies
    state_bytes: int = 0  # written to state.json* by both applies from empty (a traced run of its own)
    results: dict = field(default_factory=dict)


def kubectl_files(rendered):
    """kubectl -f arguments: every environment's objects (namespaces are applied first apart)."""
    args = []
    for env in ENVS:
        args += ["-f", os.path.join(rendered, env)]
    return args


def count_objects(rendered):
    return sum(len(files) for env in ENVS for _, _, files in os.walk(os.path.join(rendered, env)))


def run_live(n, work, glidepath):
    kubectl = os.environ["KUBECTL"]
    catalog = os.path.join(work, f"catalog-{n}")
    write_catalog(catalog, n)
    cwd = os.path.join(work, f"run-{n}")
    os.makedirs(cwd)
    live = Live(n)
    moto = Moto(open(os.path.join(work, f"moto-{n}.log"), "w"))
    plane = Plane(os.path.join(work, f"plane-{n}"))
    try:
        env = dict(os.environ, KUBECONFIG=plane.kubeconfig, AWS_ENDPOINT_URL=moto.url,
                   AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        gp = [glidepath]
        common = ["-c", catalog, "--kube-context", CONTEXT, "--stats"]
        # The cluster half first, alone, to set it next to kubectl apply; then the AWS half.
        say(f"N={n}: glidepath apply from empty: cluster, then AWS")
        # Not traced: strace stops the process at every write (sockets and progress lines too),
        # which on the busy 2-core machine tripled this apply's wall time (state bytes: below).
        live.results["apply"] = measure(gp + ["apply", "--auto-approve", "--only", "cluster"] + common,
                                        env, cwd, plane)
        live.results["apply_aws"] = measure(gp + ["apply", "--auto-approve", "--only", "aws"] + common, env, cwd)
        say(f"N={n}: glidepath plan (no change): cluster, then AWS")
        live.results["plan_cluster"] = measure(gp + ["plan", "--only", "cluster", "--detailed-exitcode"] + common,
                                               env, cwd, plane)
        live.results["plan_aws"] = measure(gp + ["plan", "--only", "aws", "--detailed-exitcode"] + common, env, cwd,
                                           moto=moto)
        # The same plan with AWS reads one at a time, as before they were bounded-concurrent.
        live.results["plan_aws_serial"] = measure(gp + ["plan", "--only", "aws", "--detailed-exitcode"] + common,
                                                  dict(env, GLIDEPATH_AWS_IN_FLIGHT="1"), cwd, moto=moto)
        rendered = os.path.join(work, f"rendered-{n}")
        measure(gp + ["render", "-c", catalog, "--out", rendered], env, cwd)
        live.objects = count_objects(rendered)
        live.aws_resources = len([f for f in os.listdir(os.path.join(rendered, "aws")) if f.endswith(".json")])
        say(f"N={n}: kubectl diff --server-side on the same {live.objects} objects")
        # glidepath's field manager: the same question glidepath's dry-run asks (exit 1 = differences).
        kenv = dict(env, KUBECTL_EXTERNAL_DIFF="diff -u -N")
        live.results["kubectl_diff"] = measure(
            [kubectl, "--context", CONTEXT, "diff", "--server-side", "--field-manager=glidepath", "-R"]
            + kubectl_files(rendered), kenv, cwd, plane, ok=(0, 1))
        # One changed service: payment-service-0's new image in dev and staging.
        first_file = os.path.join(catalog, "services-000.hcl")
        with open(first_file) as f:
            text = f.read()
        with open(first_file, "w") as f:
            f.write(text.replace('"2.14.0"', '"2.14.1"', 2))
        say(f"N={n}: after one image change: glidepath plan, kubectl diff")
        live.results["plan_changed"] = measure(
            gp + ["plan", "--only", "cluster", "--detailed-exitcode"] + common, env, cwd, plane, ok=(2,))
        changed = os.path.join(work, f"rendered-{n}-changed")
        measure(gp + ["render", "-c", catalog, "--out", changed], env, cwd)
        live.results["kubectl_diff_changed"] = measure(
            [kubectl, "--context", CONTEXT, "diff", "--server-side", "--field-manager=glidepath", "-R"]
            + kubectl_files(changed), kenv, cwd, plane, ok=(0, 1))
        with open(first_file, "w") as f:
            f.write(text)
    finally:
        plane.down()
        moto.stop()
    say(f"N={n}: state bytes written by an apply from empty (traced) on a fresh apiserver and moto")
    traced_cwd = os.path.join(work, f"run-{n}-traced")
    os.makedirs(traced_cwd)
    moto = Moto(open(os.path.join(work, f"moto-{n}-traced.log"), "w"))
    plane = Plane(os.path.join(work, f"plane-{n}-traced"))
    try:
        env = dict(env, KUBECONFIG=plane.kubeconfig, AWS_ENDPOINT_URL=moto.url)
        cluster = measure(gp + ["apply", "--auto-approve", "--only", "cluster"] + common, env, traced_cwd,
                          trace_state=True)
        aws = measure(gp + ["apply", "--auto-approve", "--only", "aws"] + common, env, traced_cwd, trace_state=True)
        live.state_bytes = cluster.state_bytes + aws.state_bytes
        live.state_size = os.path.getsize(os.path.join(traced_cwd, ".glidepath", "state.json"))
    finally:
        plane.down()
        moto.stop()
    say(f"N={n}: kubectl apply --server-side from empty on a fresh apiserver")
    plane = Plane(os.path.join(work, f"plane-{n}-kubectl"))
    try:
        env = dict(os.environ, KUBECONFIG=plane.kubeconfig)
        namespaces = []
        for env_name in ENVS:
            namespaces += ["-f", os.path.join(rendered, env_name, "_shared")]
        first = measure([kubectl, "--context", CONTEXT, "apply", "--server-side"] + namespaces, env, cwd, plane,
                        ok=(0, 1))
        rest = measure([kubectl, "--context", CONTEXT, "apply", "--server-side", "-R"] + kubectl_files(rendered),
                       env, cwd, plane)
        live.results["kubectl_apply"] = Run(wall=first.wall + rest.wall, peak_mib=max(first.peak_mib, rest.peak_mib),
                                            code=rest.code, stderr="", requests=first.requests + rest.requests)
    finally:
        plane.down()
    return live


# ------------------------------------------------------------------------------------------
# Offline
# ------------------------------------------------------------------------------------------


# Issue 18's targets for the offline rows at 3,000 services, printed beside what was measured.
OFFLINE_TARGETS = {
    "validate": "linear (issue 18: 7.4 s, 734 MiB before)",
    "render --out": "one linear pass: a few seconds (67 s before)",
    "check": "render + check < 3 s, < 500 MiB",
    "apply --offline (records the state)": "–",
    "offline no-change plan": "a few hundred MiB (18.8 s, 4.5 GiB before)",
    "validate, one error among N services": "linear (as validate)",
    "validate, one problem per service, all printed": "20,000 printed in < 2 s (> 120 s before)",
}

# One problem per service: an unknown field, as tests/cli.rs's 20,000-problem catalog has.
PROBLEMS_HEAD = """platform {
  name           = "demo"
  aws_account_id = "123456789012"
  region         = "eu-west-1"
  github_org     = "acme"
}

cluster "main" {}

environment "dev" {
  cluster = "main"
}
"""
PROBLEM_SERVICE = """
service "s{i}" {{
  use       = "standard"
  repo      = "acme/s{i}"
  team      = "core"
  port      = 8080
  image_tag = "1.0.0"
  probes {{
    readiness = "/ready"
  }}
  colour = "blue"
}}
"""


def write_problems(directory, count):
    """A one-file catalog whose COUNT services each have one unknown field."""
    os.makedirs(directory)
    with open(os.path.join(directory, "catalog.hcl"), "w") as f:
        f.write(PROBLEMS_HEAD + "".join(PROBLEM_SERVICE.format(i=i) for i in range(count)))


def write_one_error(directory, n):
    """The scaled catalog of N services with one mistake in its last file: a port out of range."""
    write_catalog(directory, n)
    last = sorted(f for f in os.listdir(directory) if f.startswith("services-"))[-1]
    path = os.path.join(directory, last)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(re.sub(r"(?m)^(  port +)= \d+$", r"\1= 99999", text, count=1))


def run_offline(n, work, glidepath):
    catalog = os.path.join(work, f"catalog-offline-{n}")
    write_catalog(catalog, n)
    # Neither AWS nor a cluster: plan and apply compare with the state file (--offline as well).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}
    cwd = os.path.join(work, f"offline-{n}")
    os.makedirs(cwd)
    results = {}
    say(f"N={n} offline: validate, render --out, check, apply and a no-change plan")
    results["validate"] = measure([glidepath, "validate", "-c", catalog], env, cwd)
    out = os.path.join(work, f"rendered-offline-{n}")
    results["render --out"] = measure([glidepath, "render", "-c", catalog, "--out", out], env, cwd)
    shutil.rmtree(out, ignore_errors=True)
    # check exits 1 when a finding is an error: measured all the same.
    results["check"] = measure([glidepath, "check", "-c", catalog], env, cwd, ok=(0, 1))
    results["apply --offline (records the state)"] = measure(
        [glidepath, "apply", "--offline", "--auto-approve", "-c", catalog], env, cwd)
    results["offline no-change plan"] = measure(
        [glidepath, "plan", "--offline", "--detailed-exitcode", "-c", catalog], env, cwd)
    shutil.rmtree(cwd, ignore_errors=True)
    shutil.rmtree(catalog, ignore_errors=True)
    return results


def run_one_error(n, work, glidepath):
    """validate of N services with one mistake: found and printed without rendering the rest."""
    wrong = os.path.join(work, f"catalog-one-error-{n}")
    write_one_error(wrong, n)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}
    say(f"N={n} offline: validate with one error")
    run = measure([glidepath, "validate", "-c", wrong], env, work, ok=(1,))
    if "the catalog has 1 problem(s)" not in run.stderr:
        say(f"expected one problem, got:\n{run.stderr[-1000:]}")
        raise SystemExit(1)
    shutil.rmtree(wrong, ignore_errors=True)
    return run


def run_problems(count, work, glidepath):
    """validate of a catalog with COUNT problems: every one printed."""
    catalog = os.path.join(work, f"catalog-problems-{count}")
    write_problems(catalog, count)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}
    say(f"{count} problems: validate")
    run = measure([glidepath, "validate", "-c", catalog], env, work, ok=(1,))
    if f"the catalog has {count} problem(s)" not in run.stderr:
        say(f"expected {count} problems, got:\n{run.stderr[-1000:]}")
        raise SystemExit(1)
    shutil.rmtree(catalog, ignore_errors=True)
    return run


# ------------------------------------------------------------------------------------------
# The tables
# ------------------------------------------------------------------------------------------


def secs(s):
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def mib(m):
    return f"{m:.0f} MiB"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "–"


def print_tables(lives, offline):
    if lives:
        print_live_tables(lives)
    if lives and offline:
        print()
    if offline:
        print_offline_table(offline)


def print_live_tables(lives):
    print("Cluster, glidepath `--only cluster` (requests counted by the apiserver):")
    print()
    print("| N services (objects) | work | glidepath: wall, peak, requests | kubectl --server-side: wall, peak, requests | ratio wall / requests |")
    print("| --- | --- | --- | --- | --- |")
    for live in lives:
        r = live.results
        label = f"{live.n} ({live.objects})"
        for name, ours, theirs, peer in (("cluster no-change plan", r["plan_cluster"], r["kubectl_diff"], "diff"),
                                         ("plan after one image change", r["plan_changed"],
                                          r["kubectl_diff_changed"], "diff"),
                                         ("apply from empty", r["apply"], r["kubectl_apply"], "apply")):
            if peer == "diff":  # kubectl diff exits 1 when it finds differences
                peer += " (no differences)" if theirs.code == 0 else " (found differences)"
            print(f"| {label} | {name} vs `kubectl {peer}` | {secs(ours.wall)}, {mib(ours.peak_mib)}, {ours.requests} "
                  f"| {secs(theirs.wall)}, {mib(theirs.peak_mib)}, {theirs.requests} "
                  f"| {ratio(ours.wall, theirs.wall)} / {ratio(ours.requests, theirs.requests)} |")
    print()
    print("AWS (moto; reads up to 16 in flight) and state:")
    print()
    print("| N services (AWS resources) | AWS apply from empty | AWS no-change plan: wall, calls "
          "| its CPU: glidepath / moto (moto's is the floor) "
          "| the same, serial (`GLIDEPATH_AWS_IN_FLIGHT=1`) | apply from empty (cluster + AWS): state bytes written / final state size |")
    print("| --- | --- | --- | --- | --- | --- |")
    for live in lives:
        r = live.results
        aws = r["plan_aws"]
        serial = r["plan_aws_serial"]
        written = live.state_bytes
        print(f"| {live.n} ({live.aws_resources}) | {secs(r['apply_aws'].wall)} | {secs(aws.wall)}, "
              f"{counted(aws.stderr, 'AWS API calls')} | {secs(aws.cpu)} / {secs(aws.server_cpu)} "
              f"| {secs(serial.wall)}, {counted(serial.stderr, 'AWS API calls')} "
              f"| {written:,} B / {live.state_size:,} B = {ratio(written, live.state_size)} |")


def print_offline_table(offline):
    print("Offline (no AWS, no cluster; `plan`/`apply --offline` compare with the state file):")
    print()
    print("| N services | work | wall | peak memory | target (issue 18) |")
    print("| --- | --- | --- | --- | --- |")
    for n, results in offline:
        for name, r in results.items():
            print(f"| {n:,} | `{name}` | {secs(r.wall)} | {mib(r.peak_mib)} | {OFFLINE_TARGETS.get(name, '')} |")


def load_average():
    """The 1, 5 and 15 minute load averages, as uptime prints them: the machine may be shared."""
    with open("/proc/loadavg") as f:
        return ", ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", default="10,100", help="catalog sizes against control plane + moto")
    parser.add_argument("--offline", default="3000", help="catalog sizes for validate/render/check ('' for none)")
    parser.add_argument("--one-error", default="16000", help="catalog size for validate with one mistake ('' for none)")
    parser.add_argument("--problems", default="20000", help="problems in the error-printing catalog ('' for none)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    glidepath = os.environ["GLIDEPATH"]
    work = tempfile.mkdtemp(prefix="glidepath-bench.")
    before = load_average()
    try:
        lives = [run_live(int(n), work, glidepath) for n in args.live.split(",") if n]
        say(f"load average: {load_average()}")
        offline = [(int(n), run_offline(int(n), work, glidepath)) for n in args.offline.split(",") if n]
        if args.one_error:
            n = int(args.one_error)
            offline.append((n, {"validate, one error among N services": run_one_error(n, work, glidepath)}))
        if args.problems:
            count = int(args.problems)
            problems = {"validate, one problem per service, all printed": run_problems(count, work, glidepath)}
            offline.append((count, problems))
        print(f"Load average before / after: {before} / {load_average()} (uptime; 2 shared cores); "
              f"glidepath: {glidepath}")
        print()
        print_tables(lives, offline)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
