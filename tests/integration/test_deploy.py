"""The deployment files under deploy/. Docker and Kubernetes cannot run here, so each
file is parsed and checked against the things it must agree with: the routes and port profgate
really serves, the configuration it really accepts (`profgate -t`), the metrics it really exports
(`profgate --list-metrics`), the shared libraries the binary really needs, and, where the tools
exist on the machine, `systemd-analyze verify` and `kubectl kustomize`."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

from harness import ROOT, binary, get, start_profgate

DEPLOY = os.path.join(ROOT, "deploy")


def load_yaml(rel):
    with open(os.path.join(DEPLOY, rel)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def config_ok(text):
    """profgate -t on a config text: (exit code, output). A redis.password_file (a Secret mounted
    in the pod) is stood in for by a file of the same kind here."""
    pw = ini_value(text, "redis", "password_file")
    if pw:
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("stand-in\n")
        os.chmod(f.name, 0o600)
        text = text.replace(pw, f.name)
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text)
    try:
        p = subprocess.run([binary("profgate"), "-t", "-c", f.name], capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1"})
        return p.returncode, p.stdout + p.stderr
    finally:
        os.unlink(f.name)


def ini_value(text, section, name):
    cur = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            cur = line[1:-1]
        elif cur == section and "=" in line and not line.startswith(("#", ";")):
            k, v = (x.strip() for x in line.split("=", 1))
            if k == name:
                return v
    return None


def exported_metrics():
    out = subprocess.run([binary("profgate"), "--list-metrics"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\| `(profgate_\w+)` \|", out))


def referenced_metrics(text):
    names = set()
    for m in re.findall(r"\bprofgate_\w+", text):
        for suffix in ("_bucket", "_sum", "_count"):
            if m.endswith(suffix):
                m = m[: -len(suffix)]
        names.add(m)
    return names


class AllFilesParse(unittest.TestCase):
    def test_every_yaml_and_json_parses(self):
        files = glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True)
        self.assertGreaterEqual(len(files), 10)
        for path in files:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            self.assertTrue(docs, path)
        for path in glob.glob(os.path.join(DEPLOY, "**", "*.json"), recursive=True):
            with open(path) as f:
                json.load(f)

    def test_readme_documents_every_file(self):
        with open(os.path.join(DEPLOY, "README.md")) as f:
            readme = f.read()
        for path in glob.glob(os.path.join(DEPLOY, "*", "*")):
            rel = os.path.relpath(path, DEPLOY)
            self.assertIn(rel, readme, f"deploy/README.md does not mention {rel}")


class Kubernetes(unittest.TestCase):
    def setUp(self):
        self.kust = load_yaml("k8s/kustomization.yaml")[0]
        self.objs = {}
        for rel in self.kust["resources"]:
            for d in load_yaml(os.path.join("k8s", rel)):
                self.objs[d["kind"]] = d
        self.dep = self.objs["Deployment"]
        self.pod = self.dep["spec"]["template"]["spec"]
        self.ctr = self.pod["containers"][0]
        self.conf = self.objs["ConfigMap"]["data"]["profgate.conf"]

    def test_the_expected_objects(self):
        self.assertEqual(set(self.objs), {"ServiceAccount", "ConfigMap", "Deployment", "Service",
                                          "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"})

    def test_redis_password_from_its_secret_and_the_network_policy(self):
        pw = ini_value(self.conf, "redis", "password_file")
        mount = next(v for v in self.ctr["volumeMounts"] if pw.startswith(v["mountPath"] + "/"))
        vol = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        secret = next(d for d in load_yaml("k8s/secret.example.yaml") if d["metadata"]["name"] == "profgate-redis")
        self.assertEqual(vol["secret"]["secretName"], secret["metadata"]["name"])
        self.assertIn(os.path.basename(pw), secret["stringData"])
        self.assertEqual(vol["secret"]["defaultMode"], 0o440)
        self.assertNotIn("@", ini_value(self.conf, "redis", "url"))  # no password in the URL
        np = self.objs["NetworkPolicy"]
        labels = self.dep["spec"]["template"]["metadata"]["labels"]
        for k, v in np["spec"]["podSelector"]["matchLabels"].items():
            self.assertEqual(labels[k], v)
        ports = {p["port"] for rule in np["spec"]["ingress"] for p in rule["ports"]}
        self.assertEqual(ports, {"http"})  # the container's named port
        self.assertIn("http", {p["name"] for p in self.ctr["ports"]})
        out = {p["port"] for rule in np["spec"]["egress"] for p in rule.get("ports", [])}
        self.assertTrue({53, 6379, 443, 80} <= out)

    def test_answers_can_spill_on_a_read_only_root(self):
        # server.spill_dir defaults to /var/tmp: with readOnlyRootFilesystem it must be a volume,
        # sized for server.spill_bytes.
        self.assertTrue(self.ctr["securityContext"]["readOnlyRootFilesystem"])
        self.assertEqual(ini_value(self.conf, "server", "spill_dir") or "", "")
        mount = next(v for v in self.ctr["volumeMounts"] if v["mountPath"] == "/var/tmp")
        vol = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        self.assertEqual(vol["emptyDir"]["sizeLimit"], "1Gi")
        self.assertFalse(mount.get("readOnly", False))

    def test_pods_run_as_the_service_account_irsa_and_pod_identity_use(self):
        sa = self.objs["ServiceAccount"]
        self.assertEqual(self.pod["serviceAccountName"], sa["metadata"]["name"])
        # No Kubernetes API token: IRSA and Pod Identity mount their own tokens.
        self.assertFalse(sa["automountServiceAccountToken"])
        self.assertFalse(self.pod["automountServiceAccountToken"])
        with open(os.path.join(DEPLOY, "k8s", "serviceaccount.yaml")) as f:
            text = f.read()
        self.assertIn("eks.amazonaws.com/role-arn", text)
        self.assertIn("create-pod-identity-association", text)
        # What the EKS webhooks inject is what profgate's chain reads: -t names the provider.
        with tempfile.TemporaryDirectory() as d:
            token = os.path.join(d, "token")
            with open(token, "w") as f:
                f.write("jwt")
            blank = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")}
            for env, provider in (({"AWS_WEB_IDENTITY_TOKEN_FILE": token,
                                    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/profgate"}, "web-identity"),
                                  ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token}, "container")):
                p = subprocess.run([binary("profgate"), "-t"], capture_output=True, text=True,
                                   timeout=30, env=dict(os.environ, HOME=d, **blank, **env))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(f"profgate: credentials: {provider}: ", p.stdout)

    def test_configmap_is_a_valid_profgate_config_and_agrees_with_the_pod(self):
        rc, out = config_ok(self.conf)
        self.assertEqual(rc, 0, out)
        port = int(ini_value(self.conf, "server", "listen").rsplit(":", 1)[1])
        self.assertEqual(ini_value(self.conf, "server", "listen").rsplit(":", 1)[0], "0.0.0.0")
        ports = {p["name"]: p["containerPort"] for p in self.ctr["ports"]}
        self.assertEqual(ports["http"], port)
        # The config is mounted where the args read it.
        mount = next(v for v in self.ctr["volumeMounts"] if v["name"] == "config")
        self.assertEqual(os.path.join(mount["mountPath"], "profgate.conf"),
                         self.ctr["args"][self.ctr["args"].index("-c") + 1])
        vol = next(v for v in self.pod["volumes"] if v["name"] == "config")
        self.assertEqual(vol["configMap"]["name"], self.objs["ConfigMap"]["metadata"]["name"])
        # Shutdown: the grace period covers the drain and the preStop pause.
        shutdown = int(ini_value(self.conf, "server", "shutdown_timeout").rstrip("s"))
        pause = int(self.ctr["lifecycle"]["preStop"]["exec"]["command"][1])
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], shutdown + pause)

    def test_probes_hit_routes_profgate_serves(self):
        self.assertEqual(self.ctr["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(self.ctr["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(self.ctr["startupProbe"]["httpGet"]["path"], "/healthz")
        ann = self.dep["spec"]["template"]["metadata"]["annotations"]
        gw = start_profgate()
        try:
            for path in ("/healthz", "/readyz", ann["prometheus.io/path"]):
                self.assertEqual(get(gw.port, path).status, 200, path)
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_non_root_and_secret_reference(self):
        self.assertTrue(self.pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["securityContext"]["runAsUser"], 0)
        self.assertFalse(self.ctr["securityContext"]["allowPrivilegeEscalation"])
        self.assertTrue(self.ctr["securityContext"]["readOnlyRootFilesystem"])
        secret = load_yaml("k8s/secret.example.yaml")[0]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in self.ctr["env"] if "valueFrom" in e}
        self.assertEqual(set(refs), {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})
        for name, ref in refs.items():
            self.assertEqual(ref["name"], secret["metadata"]["name"])
            self.assertIn(ref["key"], secret["stringData"])
        # The credentials never appear in the ConfigMap.
        self.assertNotIn("AWS_SECRET", self.conf)
        # The tenants file (auth.mode = sigv4) comes from its own Secret, group-readable for the pod's
        # fsGroup (0440, which profgate accepts), and is a valid tenants file.
        tenants_secret = load_yaml("k8s/secret.example.yaml")[1]
        vol = next(v for v in self.pod["volumes"] if v["name"] == "tenants")
        self.assertEqual(vol["secret"]["secretName"], tenants_secret["metadata"]["name"])
        self.assertEqual(vol["secret"]["defaultMode"], 0o440)
        self.assertEqual(self.pod["securityContext"]["fsGroup"], self.pod["securityContext"]["runAsGroup"])
        mount = next(v for v in self.ctr["volumeMounts"] if v["name"] == "tenants")
        with open(os.path.join(DEPLOY, "k8s", "secret.example.yaml")) as f:
            self.assertIn(os.path.join(mount["mountPath"], "tenants.conf"), f.read())
        with tempfile.TemporaryDirectory() as d:
            tpath = os.path.join(d, "tenants.conf")
            with open(tpath, "w") as f:
                f.write(tenants_secret["stringData"]["tenants.conf"])
            os.chmod(tpath, 0o440)
            rc, out = config_ok(f"[auth]\nmode = sigv4\ntenants_file = {tpath}\n")
            self.assertEqual(rc, 0, out)

    def test_service_hpa_pdb_point_at_the_deployment(self):
        labels = self.dep["spec"]["template"]["metadata"]["labels"]
        svc = self.objs["Service"]["spec"]
        for k, v in svc["selector"].items():
            self.assertEqual(labels[k], v)
        self.assertIn(svc["ports"][0]["targetPort"], [p["name"] for p in self.ctr["ports"]])
        hpa = self.objs["HorizontalPodAutoscaler"]["spec"]
        self.assertEqual(hpa["scaleTargetRef"]["name"], self.dep["metadata"]["name"])
        self.assertEqual(hpa["scaleTargetRef"]["kind"], "Deployment")
        self.assertLessEqual(hpa["minReplicas"], hpa["maxReplicas"])
        pdb = self.objs["PodDisruptionBudget"]["spec"]
        for k, v in pdb["selector"]["matchLabels"].items():
            self.assertEqual(labels[k], v)

    @unittest.skipUnless(shutil.which("kubectl"), "kubectl is not installed")
    def test_kustomize_renders(self):
        p = subprocess.run(["kubectl", "kustomize", os.path.join(DEPLOY, "k8s")], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        kinds = {d["kind"] for d in yaml.safe_load_all(p.stdout) if d}
        self.assertEqual(kinds, set(self.objs))


class Docker(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DEPLOY, "docker", "Dockerfile")) as f:
            text = f.read().replace("\\\n", " ")
        self.lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
        froms = [i for i, l in enumerate(self.lines) if l.startswith("FROM ")]
        self.assertEqual(len(froms), 2, "a build stage and a runtime stage")
        self.build = self.lines[froms[0]:froms[1]]
        self.final = self.lines[froms[1]:]

    def packages(self, stage):
        run = next(l for l in stage if l.startswith("RUN ") and "apt-get install" in l)
        words = run.split("apt-get install", 1)[1].split("&&")[0].split()
        return {w for w in words if not w.startswith("-")}

    def test_stages(self):
        self.assertTrue(self.build[0].startswith("FROM debian:12"))
        self.assertTrue(self.final[0].startswith("FROM debian:12"))
        user = next(l for l in self.final if l.startswith("USER ")).split()[1].split(":")[0]
        self.assertNotIn(user, ("0", "root"))
        self.assertIn("/healthz", next(l for l in self.final if l.startswith("HEALTHCHECK ")))
        for l in self.lines:
            if l.startswith("COPY ") and "--from" not in l:
                for src in l.split()[1:-1]:
                    self.assertTrue(os.path.exists(os.path.join(ROOT, src)), src)

    def test_runtime_packages_cover_the_binarys_libraries(self):
        needed = subprocess.run(["objdump", "-p", binary("profgate")], capture_output=True, text=True,
                                check=True).stdout
        sonames = re.findall(r"NEEDED\s+(\S+)", needed)
        ldd = subprocess.run(["ldd", binary("profgate")], capture_output=True, text=True, check=True).stdout
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
        runtime = self.packages(self.final)
        for so in sonames:
            if so.startswith(("libc.so", "libm.so")):
                continue  # in every Debian image
            if so.startswith(("libasan", "libubsan", "liblsan", "libtsan", "libstdc++", "libgcc_s")):
                continue  # a sanitizer build's runtime, not the release image's
            real = os.path.realpath(paths[so])
            owner = None
            for candidate in (paths[so], real, real.replace("/usr/lib/", "/lib/", 1)):
                p = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if p.returncode == 0:
                    owner = p.stdout.split(":")[0]
                    break
            self.assertIsNotNone(owner, so)
            self.assertIn(owner, runtime, f"{so} comes from {owner}, missing from the runtime stage")

    def test_build_stage_has_the_build_dependencies(self):
        with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
            deps = f.read()
        build = self.packages(self.build)
        for pkg in ("libuv1-dev", "libcurl4-openssl-dev", "libssl-dev", "libhiredis-dev", "node-llhttp",
                    "zlib1g-dev", "libzstd-dev", "libinih-dev", "libyajl-dev", "libprotobuf-c-dev",
                    "protobuf-c-compiler", "golang-github-google-pprof-dev", "cmake", "pkg-config"):
            self.assertIn(pkg, deps)
            self.assertIn(pkg, build)

    def test_configs_are_valid_and_agree_with_the_image_and_compose(self):
        with open(os.path.join(DEPLOY, "docker", "profgate.conf")) as f:
            image_conf = f.read()
        rc, out = config_ok(image_conf)
        self.assertEqual(rc, 0, out)
        expose = next(l for l in self.final if l.startswith("EXPOSE ")).split()[1]
        self.assertEqual(ini_value(image_conf, "server", "listen"), f"0.0.0.0:{expose}")
        compose = load_yaml("docker/compose.yaml")[0]
        self.assertEqual(set(compose["services"]), {"redis", "sim", "profgate"})
        pg = compose["services"]["profgate"]
        src, dst = pg["volumes"][0].split(":")[:2]
        with open(os.path.join(DEPLOY, "docker", src)) as f:
            compose_conf = f.read()
        self.assertEqual(dst, "/etc/profgate/profgate.conf")
        rc, out = config_ok(compose_conf)
        self.assertEqual(rc, 0, out)
        sim_cmd = compose["services"]["sim"]["command"]
        sim_port = sim_cmd[sim_cmd.index("--listen") + 1].rsplit(":", 1)[1]
        self.assertEqual(ini_value(compose_conf, "upstream", "endpoint"), f"http://sim:{sim_port}")
        self.assertEqual(ini_value(compose_conf, "redis", "url"), "redis://redis:6379")
        self.assertEqual(pg["ports"][0].rsplit(":", 1)[1], ini_value(compose_conf, "server", "listen").rsplit(":", 1)[1])
        self.assertEqual(set(pg["depends_on"]), {"redis", "sim"})


class Systemd(unittest.TestCase):
    def test_env_file_is_key_value(self):
        with open(os.path.join(DEPLOY, "systemd", "profgate.env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    self.assertRegex(line, r"^[A-Z_][A-Z0-9_]*=")

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_unit_verifies_without_warnings(self):
        with open(os.path.join(DEPLOY, "systemd", "profgate.service")) as f:
            unit = f.read()
        self.assertIn("Type=notify", unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "profgate.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/local/bin/profgate", os.path.abspath(binary("profgate"))))
            p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr.strip(), "", "systemd-analyze warned")
        finally:
            shutil.rmtree(d)


class Monitoring(unittest.TestCase):
    def test_prometheus_config_and_rules_use_real_metrics(self):
        prom = load_yaml("prometheus/prometheus.yml")[0]
        jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
        self.assertEqual(jobs["profgate"]["metrics_path"], "/metrics")
        for rf in prom["rule_files"]:
            self.assertTrue(os.path.exists(os.path.join(DEPLOY, "prometheus", rf)), rf)
        rules = load_yaml("prometheus/profgate-alerts.yml")[0]
        exported = exported_metrics()
        exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
        self.assertGreaterEqual(len(exprs), 4)
        for e in exprs:
            self.assertLessEqual(referenced_metrics(e), exported, e)

    def test_grafana_dashboard_uses_real_metrics(self):
        with open(os.path.join(DEPLOY, "grafana", "profgate-dashboard.json")) as f:
            dash = json.load(f)
        exported = exported_metrics()
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 10)
        used = set()
        for e in exprs:
            refs = referenced_metrics(e)
            self.assertTrue(refs, e)
            self.assertLessEqual(refs, exported, e)
            used |= refs
        # The panels cover the list: requests, buckets, upstream, Redis, caches, latency, connections.
        for m in ("profgate_requests_total", "profgate_buckets_total", "profgate_upstream_requests_total",
                  "profgate_upstream_rate", "profgate_upstream_queue_depth", "profgate_redis_command_duration_seconds",
                  "profgate_cache_bytes", "profgate_cache_evictions_total", "profgate_request_duration_seconds",
                  "profgate_upstream_request_duration_seconds", "profgate_open_connections",
                  "profgate_upstream_circuit_open"):
            self.assertIn(m, used)


if __name__ == "__main__":
    unittest.main()
