"""Deployment files (deploy/): they parse, validate against the Kubernetes and Compose schemas, and agree with
the code and with each other (ports, probe paths, config path, image names, policy, scrape targets).

These are the offline checks; `make image-test` (tests/unit/test_image_test.py) builds and runs the image.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from compose_spec import PyCompose
from starlette.testclient import TestClient

from gateway import cli
from gateway.app import create_app
from gateway.commands import sim as sim_command
from gateway.config import parse_policy_text
from gateway.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
KUSTOMIZATION = DEPLOY / "kustomization.yaml"
POLICY = DEPLOY / "policy.yaml"
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
GATEWAY_IMAGE_NAME = "thinkgate/gateway"


# --- loading -------------------------------------------------------------------------------------------------


def load_yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def kustomization() -> dict[str, Any]:
    (doc,) = load_yaml_docs(KUSTOMIZATION)
    assert isinstance(doc, dict)
    return doc


def generated_configmaps() -> list[dict[str, Any]]:
    """What kustomize makes of the kustomization's configMapGenerator (files only, as we use it)."""
    out = []
    for gen in kustomization().get("configMapGenerator", []):
        assert set(gen) <= {"name", "files", "options"}, f"unsupported generator fields: {gen}"
        assert gen["options"]["disableNameSuffixHash"] is True  # the Deployment mounts the plain name
        data = {}
        for entry in gen["files"]:
            key, _, source = entry.rpartition("=")
            data[key or Path(source).name] = (DEPLOY / source).read_text(encoding="utf-8")
        metadata = {"name": gen["name"], "labels": gen["options"]["labels"]}
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    return out


def k8s_docs() -> list[tuple[str, dict[str, Any]]]:
    """Every object `kubectl apply -k deploy` creates: the listed resources and the generated ConfigMaps."""
    out: list[tuple[str, dict[str, Any]]] = []
    for resource in kustomization()["resources"]:
        out.extend((Path(resource).name, doc) for doc in load_yaml_docs(DEPLOY / resource))
    out.extend(("kustomization.yaml", doc) for doc in generated_configmaps())
    return out


def k8s_find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in k8s_docs():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name!r} in deploy/k8s")


def gateway_container() -> dict[str, Any]:
    container: dict[str, Any] = k8s_find("Deployment", "thinkgate")["spec"]["template"]["spec"]["containers"][
        0
    ]
    return container


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8"))
    return data


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/docker/Dockerfile, continuation lines joined, comments dropped."""
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        lines.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends with a continuation line"
    return lines


def docker_args(rest: str) -> list[str]:
    """Exec-form (JSON array) or shell-form arguments of CMD / ENTRYPOINT / HEALTHCHECK CMD."""
    if rest.startswith("["):
        value = json.loads(rest)
        assert isinstance(value, list)
        return [str(v) for v in value]
    return shlex.split(rest)


def dockerfile_default_arg(name: str) -> str:
    """The default of `ARG name=default` (the first one: global ARGs come before the first FROM)."""
    for word, rest in dockerfile():
        if word == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1]
    raise AssertionError(f"Dockerfile has no ARG {name}=default")


def docker_one(instruction: str) -> str:
    found = [rest for word, rest in dockerfile() if word == instruction]
    assert found, f"Dockerfile has no {instruction}"
    return found[-1]  # the runtime stage's


def option(args: list[str], name: str) -> str:
    ns, _ = _option_parser(name).parse_known_args(args)
    value = getattr(ns, name.lstrip("-").replace("-", "_"))
    assert value is not None, f"{name} missing in {args}"
    return str(value)


def _option_parser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(name)
    return p


def embedded_policy_text() -> str:
    text: str = k8s_find("ConfigMap", "thinkgate-policy")["data"]["policy.yaml"]
    return text


def app_paths() -> set[str]:
    policy = parse_policy_text(embedded_policy_text())
    return set(create_app(Settings(), policy).openapi()["paths"])


# --- every file parses ---------------------------------------------------------------------------------------


DEPLOY_FILES = sorted(
    p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml", ".json"} and "__pycache__" not in p.parts
)


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_file_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    docs = [json.loads(text)] if path.suffix == ".json" else load_yaml_docs(path)
    assert docs and all(isinstance(d, dict) for d in docs), f"{path}: expected mapping documents"


def test_the_deploy_tree_is_complete() -> None:
    expected = {
        "docker/Dockerfile",
        "compose/compose.yaml",
        "policy.yaml",
        "kustomization.yaml",
        "prometheus/prometheus.yml",
        "prometheus/alerts.yml",
        "grafana/thinkgate.json",
        "policy.schema.json",
        "k8s/gateway.yaml",
        "k8s/secrets.yaml",
        "k8s/redis.yaml",
        "k8s/vllm.yaml",
    }
    missing = {f for f in expected if not (DEPLOY / f).is_file()}
    assert not missing


# --- Kubernetes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("name", "doc"), k8s_docs(), ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in k8s_docs()]
)
def test_k8s_manifest_validates(name: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "template", "spec", "containers", 0, "livenessProbe", "httpGet", "pathh"), "/health"),
        (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "eighty"),
        (("spec", "replicas"), "two"),
    ],
)
def test_k8s_validator_rejects_broken_manifests(path: tuple[str | int, ...], value: Any) -> None:
    doc = copy.deepcopy(k8s_find("Deployment", "thinkgate"))
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    files = {f"k8s/{p.name}" for p in K8S.glob("*.yaml")}
    assert sorted(kustomization()["resources"]) == sorted(files)
    assert not list(K8S.glob("kustomization.y*ml")), "one kustomization: deploy/kustomization.yaml"


def kustomize_build() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (its built-in kustomize renders deploy/)")
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_renders_what_the_offline_checks_validate() -> None:
    """`kubectl kustomize deploy` (offline) makes the objects these tests validate, the policy ConfigMap included."""
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in kustomize_build()}
    ours = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_docs()}
    assert sorted(rendered) == sorted(ours)
    namespace = kustomization()["namespace"]
    for key, doc in rendered.items():
        if key != ("Namespace", namespace):
            assert doc["metadata"]["namespace"] == namespace, key
    configmap = rendered[("ConfigMap", "thinkgate-policy")]
    assert configmap["data"] == {"policy.yaml": POLICY.read_text(encoding="utf-8")}
    assert configmap["metadata"]["labels"] == ours[("ConfigMap", "thinkgate-policy")]["metadata"]["labels"]


def test_gateway_deployment_has_what_production_needs() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in k8s_docs()}
    for needed in [
        ("Deployment", "thinkgate"),
        ("Service", "thinkgate"),
        ("HorizontalPodAutoscaler", "thinkgate"),
        ("PodDisruptionBudget", "thinkgate"),
        ("ConfigMap", "thinkgate-policy"),
        ("Secret", "thinkgate-keys"),
        ("Deployment", "redis"),
        ("Service", "redis"),
    ]:
        assert needed in kinds
    c = gateway_container()
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    pod = k8s_find("Deployment", "thinkgate")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    hpa = k8s_find("HorizontalPodAutoscaler", "thinkgate")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "thinkgate"}
    labels = k8s_find("Deployment", "thinkgate")["spec"]["template"]["metadata"]["labels"]
    for selector in (
        k8s_find("PodDisruptionBudget", "thinkgate")["spec"]["selector"]["matchLabels"],
        k8s_find("Service", "thinkgate")["spec"]["selector"],
    ):
        assert selector.items() <= labels.items()


def test_gateway_probes_use_real_routes() -> None:
    c = gateway_container()
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    paths = app_paths()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] in paths
        assert c[probe]["httpGet"]["port"] in {p["name"] for p in c["ports"]}
    annotations = k8s_find("Deployment", "thinkgate")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in paths
    policy = parse_policy_text(embedded_policy_text())
    client = TestClient(create_app(Settings(), policy))
    assert client.get("/health").status_code == 200
    assert client.get(annotations["prometheus.io/path"]).text.startswith("# HELP")


def test_every_pool_has_a_vllm_deployment_and_service() -> None:
    policy = parse_policy_text(embedded_policy_text())
    for name, spec in policy.backends.items():
        for url in spec.endpoints:
            parts = urlsplit(url)
            service = k8s_find("Service", parts.hostname or "")
            assert parts.port in {p["port"] for p in service["spec"]["ports"]}, url
            deployment = next(
                d
                for _, d in k8s_docs()
                if d["kind"] == "Deployment"
                and service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            )
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            assert container["args"][0] == spec.model, f"pool {name}: vLLM serves another model"
            assert container["resources"]["limits"]["nvidia.com/gpu"]
            if spec.can_think:
                assert "--reasoning-parser=qwen3" in container["args"], (
                    f"pool {name} needs a reasoning parser"
                )


# --- policy ----------------------------------------------------------------------------------------------------


def test_deployed_policy_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", str(POLICY)]) == 0
    assert ": OK (policy version 1)" in capsys.readouterr().out


def test_deployed_policy_matches_the_json_schema() -> None:
    schema = json.loads((DEPLOY / "policy.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(POLICY.read_text(encoding="utf-8")), schema)


def test_compose_kubernetes_and_the_image_test_deploy_one_policy_file() -> None:
    """deploy/policy.yaml is the only policy: compose mounts it, kustomize makes the ConfigMap of it, and
    `make image-test` runs the image with it, so the three cannot drift apart."""
    config_path = option(docker_args(docker_one("CMD")), "--config")
    gw = compose()["services"]["gateway"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in gw["volumes"]}
    assert (DEPLOY / "compose" / mounts[config_path]).resolve() == POLICY
    (generator,) = kustomization()["configMapGenerator"]
    assert [(DEPLOY / f).resolve() for f in generator["files"]] == [POLICY]
    pod = k8s_find("Deployment", "thinkgate")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == generator["name"]
    (item,) = volume["configMap"]["items"]
    (mount,) = [m for m in gateway_container()["volumeMounts"] if m["name"] == volume["name"]]
    assert f"{mount['mountPath']}/{item['path']}" == config_path and item["key"] == POLICY.name
    smoke = REPO / "scripts" / "image" / "smoke.py"
    assert 'POLICY = REPO / "deploy" / "policy.yaml"' in smoke.read_text(encoding="utf-8")
    others = [
        p
        for p in DEPLOY.rglob("*.y*ml")
        if p != POLICY and any(isinstance(d, dict) and "backends" in d for d in load_yaml_docs(p))
    ]
    assert not others, f"a second policy file would drift: {others}"


def test_check_config_rejects_a_broken_configmap_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(embedded_policy_text().replace("family: qwen3-thinking-2507", "family: qwen9"), "utf-8")
    assert cli.main(["check-config", str(path)]) == 2
    assert "qwen9" in capsys.readouterr().err


# --- Dockerfile ------------------------------------------------------------------------------------------------


def test_dockerfile_runs_thinkgate_serve_as_non_root_on_the_settings_port() -> None:
    froms = [rest for word, rest in dockerfile() if word == "FROM"]
    assert froms and all(f.split()[0] == "${BASE_IMAGE}" for f in froms)
    assert re.fullmatch(r"python:3\.1[1-9]-slim", dockerfile_default_arg("BASE_IMAGE"))
    user = docker_one("USER").split(":")[0]
    assert user not in {"root", "0"}
    port = Settings().port
    assert docker_one("EXPOSE").split() == [str(port)]
    cmd = docker_args(docker_one("ENTRYPOINT")) + docker_args(docker_one("CMD"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert cmd[0] in scripts and scripts[cmd[0]] == "gateway.cli:main"
    assert cmd[1] == "serve"
    assert option(cmd, "--port") == str(port)
    assert option(cmd, "--host") == "0.0.0.0"
    assert option(cmd, "--config") == "/etc/thinkgate/policy.yaml"
    health = docker_one("HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/health" in health
    assert "/health" in app_paths()


def test_dockerfile_copies_what_the_package_needs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied = set()
    for word, rest in dockerfile():
        if word == "COPY" and not rest.startswith("--from"):
            sources = rest.split()[:-1]
            for src in sources:
                assert (REPO / src).exists(), f"COPY source {src} does not exist"
                copied.add(src)
    assert project["project"]["readme"] in copied
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} not copied into the image"
    assert "uv.lock" in copied, "the image installs the locked versions"
    syncs = [rest for word, rest in dockerfile() if word == "RUN" and "uv sync" in rest]
    assert syncs and all("--locked" in r for r in syncs), "every install in the image is `uv sync --locked`"
    assert not [r for w, r in dockerfile() if w == "RUN" and re.search(r"pip install (?!.*uv==)", r)]
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for src in copied:
        assert f"!{src}" in ignore or f"!{src}/**" in ignore, f"{src} is excluded by Dockerfile.dockerignore"


# --- Compose ---------------------------------------------------------------------------------------------------


def test_compose_validates_against_the_compose_spec() -> None:
    # yaml resolves the `<<` merge keys that the spec parser does not know; then the strict parser runs
    names = PyCompose.from_json(json.dumps(compose())).service_names()
    assert set(names) >= {"gateway", "redis", "prometheus", "grafana", "vllm-thinking", "vllm-instruct"}


def test_compose_spec_parser_rejects_a_typo() -> None:
    bad = compose()
    bad["services"]["gateway"]["imagee"] = bad["services"]["gateway"].pop("image")
    with pytest.raises(ValueError, match="imagee"):
        PyCompose.from_json(json.dumps(bad))


def test_compose_services_have_images_and_existing_mounts_and_dependencies() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        assert svc.get("image"), f"service {name} has no image"
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in svc.get("volumes") or ():
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / "compose" / source).resolve().exists(), f"{name}: {source} does not exist"


def test_compose_gateway_agrees_with_the_image_and_settings() -> None:
    gw = compose()["services"]["gateway"]
    assert (DEPLOY / "compose" / gw["build"]["context"] / gw["build"]["dockerfile"]).resolve() == (
        DEPLOY / "docker" / "Dockerfile"
    )
    port = Settings().port
    assert f"{port}:{port}" in gw["ports"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in gw["volumes"]}
    assert mounts["/etc/thinkgate/policy.yaml"] == "../policy.yaml"


def test_compose_endpoints_resolve_in_both_profiles() -> None:
    services = compose()["services"]
    policy = parse_policy_text(POLICY.read_text(encoding="utf-8"))
    for profile in ("gpu", "sim"):
        names: dict[str, dict[str, Any]] = {}
        for name, svc in services.items():
            if profile in svc.get("profiles", [profile]):
                names[name] = svc
                for alias in (svc.get("networks") or {}).get("default", {}).get("aliases", []):
                    names[alias] = svc
        for spec in policy.backends.values():
            for url in spec.endpoints:
                parts = urlsplit(url)
                svc = names.get(parts.hostname or "")
                assert svc is not None, f"profile {profile}: nobody serves {url}"
                args = [a.split("#")[0].strip() for a in svc["command"]]
                assert f"--port={parts.port}" in args
                if profile == "sim":
                    ns = argparse.ArgumentParser()
                    sim_command.add_arguments(ns)
                    parsed = ns.parse_args([a for a in args if a])
                    cfg = sim_command.config_from_args(parsed)
                    assert (cfg.model, cfg.mode) == (spec.model, spec.mode)
                    assert parsed.host == "0.0.0.0"
                else:
                    assert args[0] == spec.model


def test_images_agree_across_compose_k8s_and_pyproject() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    services = compose()["services"]
    expected = f"{GATEWAY_IMAGE_NAME}:{version}"
    assert gateway_container()["image"] == expected
    assert services["gateway"]["image"] == expected
    assert services["sim-thinking"]["image"] == expected
    vllm_images = {services[s]["image"] for s in ("vllm-thinking", "vllm-instruct")}
    vllm_images |= {
        d["spec"]["template"]["spec"]["containers"][0]["image"]
        for _, d in k8s_docs()
        if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("vllm-")
    }
    assert len(vllm_images) == 1
    assert gateway_container()["args"] == docker_args(docker_one("CMD"))


# --- Prometheus and Grafana ------------------------------------------------------------------------------------


def rules(name: str) -> list[dict[str, Any]]:
    (doc,) = load_yaml_docs(DEPLOY / "prometheus" / name)
    return [rule for group in doc["groups"] for rule in group["rules"]]


def balanced(expr: str) -> bool:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in re.sub(r'"[^"]*"', "", expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


@pytest.mark.parametrize("name", ["alerts.yml"])
def test_alert_rules_are_well_formed(name: str) -> None:
    seen = set()
    for rule in rules(name):
        assert re.fullmatch(r"Thinkgate[A-Za-z]+", rule["alert"])
        assert rule["alert"] not in seen
        seen.add(rule["alert"])
        assert balanced(rule["expr"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_required_alerts_exist() -> None:
    names = {r["alert"] for r in rules("alerts.yml")}
    for needed in (
        "ThinkgateBackendPoolDown",
        "ThinkgateHighErrorRate",
        "ThinkgateSheddingSustained",
        "ThinkgateRedisDown",
    ):
        assert needed in names
    assert "ThinkgateRedisDown" in names


def test_prometheus_scrapes_the_gateway_and_loads_the_live_rules_only() -> None:
    (prom,) = load_yaml_docs(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    gw = jobs["thinkgate"]
    assert gw["metrics_path"] in app_paths()
    assert gw["static_configs"][0]["targets"] == [f"gateway:{Settings().port}"]
    mounted = {
        v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["prometheus"]["volumes"] if ":" in v
    }
    for rule_file in prom["rule_files"]:
        assert rule_file in mounted, f"{rule_file} is not mounted into the prometheus container"
        assert (DEPLOY / "compose" / mounted[rule_file]).resolve().is_file()
    assert not any("pending" in f for f in prom["rule_files"])


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    (ds,) = load_yaml_docs(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    (prov,) = load_yaml_docs(DEPLOY / "grafana" / "provisioning" / "dashboards" / "thinkgate.yaml")
    folder = prov["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["grafana"]["volumes"]}
    assert mounts[f"{folder}/thinkgate.json"] == "../grafana/thinkgate.json"
    assert mounts["/etc/grafana/provisioning"] == "../grafana/provisioning"


def test_dashboard_panels_are_well_formed() -> None:
    board = json.loads((DEPLOY / "grafana" / "thinkgate.json").read_text(encoding="utf-8"))
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    titles = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        if panel["type"] == "row":
            continue
        titles.add(panel["title"])
        assert panel["targets"]
        for target in panel["targets"]:
            assert balanced(target["expr"]) and "thinkgate_" in target["expr"]
    for needed in (
        "Requests per second by effort",
        "Think share (requests with effort above none)",
        "Thinking tokens per minute by effort",
        "Time to first token p50 / p95 by effort",
        "Budget hits per minute by effort",
        "Upstream errors by pool and kind",
        "Endpoint health (worst gateway replica)",
        "In-flight requests per endpoint",
    ):
        assert needed in titles
