"""clusters/: every definition parses and carries what its consumer (KubeRay, the Ray cluster
launcher, Ray's runtime env, Slurm's bash, evalfleet's config loader) requires.

Where the consumer's own validator is installed it does the checking: Ray's cluster-launcher schema
for the `ray up` config, `ray.runtime_env.RuntimeEnv` for runtime envs, `evalfleet.spec.config` for the
run config inside the RayJob. KubeRay's CRDs are not installable offline, so its fields are checked
against the operator's documented requirements (string-valued rayStartParams, GPU limits matching
num-gpus, volumes declared for every mount) and our own rules (token auth on every Ray container,
the results volume on every pod).
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import pytest
import ray
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLUSTERS = ROOT / "clusters"
TOKEN_SECRET = {"name": "evalfleet-ray-token", "key": "auth_token"}
RAY_MINOR = ".".join(ray.__version__.split(".")[:2])


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def by_kind(path: Path, kind: str) -> dict:
    docs = [d for d in load_all(path) if d.get("kind") == kind]
    assert len(docs) == 1, f"{path.name}: expected one {kind}"
    return docs[0]


def test_every_yaml_parses():
    files = sorted(CLUSTERS.rglob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        docs = load_all(f)
        assert docs and all(isinstance(d, dict) for d in docs), f


# --- KubeRay ---------------------------------------------------------------------------------


def check_pod_template(template: dict, where: str, *, gpus: int) -> None:
    spec = template["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    containers = spec["containers"]
    assert containers, where
    ray_container = containers[0]
    assert ray_container["image"], where
    env = {e["name"]: e for e in ray_container.get("env", [])}
    assert env["RAY_AUTH_MODE"]["value"] == "token", f"{where}: token auth must stay on"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == TOKEN_SECRET, where
    for mount in ray_container.get("volumeMounts", []):
        assert mount["name"] in volumes, f"{where}: mount {mount['name']} has no volume"
    mounts = {m["mountPath"]: m["name"] for m in ray_container.get("volumeMounts", [])}
    assert volumes[mounts["/results"]]["persistentVolumeClaim"]["claimName"] == "evalfleet-results", where
    assert volumes[mounts["/inputs"]]["persistentVolumeClaim"]["claimName"] == "evalfleet-inputs", where
    limits = ray_container["resources"]["limits"]
    assert int(limits.get("nvidia.com/gpu", 0)) == gpus, f"{where}: GPU limit must equal num-gpus"


def check_ray_cluster_spec(spec: dict, where: str) -> None:
    assert spec["rayVersion"].startswith(RAY_MINOR), f"{where}: rayVersion vs installed Ray {ray.__version__}"
    head = spec["headGroupSpec"]
    assert all(isinstance(v, str) for v in head["rayStartParams"].values()), "KubeRay wants string params"
    assert head["rayStartParams"]["num-gpus"] == "0"
    check_pod_template(head["template"], f"{where} head", gpus=0)
    ports = {p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert {6379, 8265} <= ports
    groups = spec["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        params = group["rayStartParams"]
        assert all(isinstance(v, str) for v in params.values()), "KubeRay wants string params"
        assert int(params["num-gpus"]) >= 1, "the worker group is the GPU group"
        check_pod_template(group["template"], f"{where} group {group['groupName']}", gpus=int(params["num-gpus"]))


def test_storage_declares_shared_volumes():
    claims = {d["metadata"]["name"]: d for d in load_all(CLUSTERS / "kuberay" / "storage.yaml")}
    assert claims["evalfleet-results"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claims["evalfleet-inputs"]["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_raycluster():
    rc = by_kind(CLUSTERS / "kuberay" / "raycluster.yaml", "RayCluster")
    assert rc["apiVersion"] == "ray.io/v1"
    assert rc["metadata"]["name"]
    check_ray_cluster_spec(rc["spec"], "raycluster.yaml")


def test_rayjob_runs_the_configmap_config(tmp_path):
    from evalfleet.spec.config import parse_config
    from evalfleet.spec.paths import scoring_dir

    path = CLUSTERS / "kuberay" / "rayjob.yaml"
    job = by_kind(path, "RayJob")
    assert job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    check_ray_cluster_spec(spec["rayClusterSpec"], "rayjob.yaml")
    assert spec["shutdownAfterJobFinishes"] is True

    m = re.fullmatch(r"python -m evalfleet run (\S+) --results (\S+)", spec["entrypoint"])
    assert m, spec["entrypoint"]
    config_path, results = Path(m.group(1)), m.group(2)
    assert results.startswith("/results/"), "results must land on the results volume"
    # The config file the entrypoint names is the ConfigMap key mounted on the head.
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mount = next(m for m in head["containers"][0]["volumeMounts"] if m["mountPath"] == str(config_path.parent))
    volume = next(v for v in head["volumes"] if v["name"] == mount["name"])
    cm = by_kind(path, "ConfigMap")
    assert cm["metadata"]["name"] == volume["configMap"]["name"]
    raw = yaml.safe_load(cm["data"][config_path.name])
    config = parse_config(raw, source=f"{path}:{config_path.name}", base=Path("/config"), results=results)
    assert not config.problems
    assert (scoring_dir() / f"{config.edition}.yaml").is_file()
    assert all(m.path.startswith("/inputs/") for m in config.submissions)
    assert config.data_dir.startswith("/inputs/")

    ray.runtime_env.RuntimeEnv(**yaml.safe_load(spec["runtimeEnvYAML"]))
    submitter = spec["submitterPodTemplate"]["spec"]["containers"][0]
    env = {e["name"]: e for e in submitter["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == TOKEN_SECRET


def test_dockerfile_matches_ray_version():
    text = (CLUSTERS / "Dockerfile").read_text()
    base = re.search(r"^FROM rayproject/ray:(\S+)", text, re.M)
    assert base and base.group(1).startswith(RAY_MINOR)
    rc = by_kind(CLUSTERS / "kuberay" / "raycluster.yaml", "RayCluster")
    assert base.group(1).startswith(rc["spec"]["rayVersion"])
    for needed in ("tasks", "scoring", "evalfleet"):
        assert re.search(rf"^COPY .*\b{needed}\b", text, re.M), f"the image needs {needed}/"
    assert "pip install --no-cache-dir -e ." in text, "editable, so tasks/ and scoring/ sit beside the package"


# --- runtime env, ray up -----------------------------------------------------------------------


def test_runtime_env_is_valid_and_keeps_uploads_small():
    raw = yaml.safe_load((CLUSTERS / "runtime_env.yaml").read_text())
    ray.runtime_env.RuntimeEnv(**raw)
    assert {".git", ".venv*", "results"} <= set(raw["excludes"])


def test_ray_up_config_passes_rays_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((CLUSTERS / "ray-up" / "evalfleet-aws.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(raw)))
    broken = copy.deepcopy(raw)
    broken["available_node_types"]["gpu"]["resources"] = "one GPU"
    with pytest.raises(Exception):
        validate_config(prepare_config(broken))  # the validator can fail

    types = raw["available_node_types"]
    assert raw["head_node_type"] in types
    assert any(t["resources"].get("GPU", 0) >= 1 for t in types.values())
    assert types[raw["head_node_type"]]["resources"].get("GPU", 0) == 0
    assert "~/.ray/auth_token" in raw["file_mounts"], "the token travels to every node"
    for cmd in (*raw["head_start_ray_commands"], *raw["worker_start_ray_commands"]):
        if "ray start" in cmd:
            assert "RAY_AUTH_MODE=token" in cmd


# --- shell scripts -----------------------------------------------------------------------------


SCRIPTS = [CLUSTERS / "slurm" / "evalfleet.sbatch", *sorted((CLUSTERS / "dev").glob("*.sh"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_bash_n(script):
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_dev_scripts_exist():
    names = {p.name for p in (CLUSTERS / "dev").glob("*.sh")}
    assert {"start.sh", "stop.sh", "kill-node.sh"} <= names


def test_slurm_script_starts_head_and_workers_with_token_auth():
    text = (CLUSTERS / "slurm" / "evalfleet.sbatch").read_text()
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)=?(\S*)", text, re.M))
    assert {"nodes", "gpus-per-node", "ntasks-per-node"} <= set(directives)
    assert re.search(r"srun .*\n\s*ray start --head --block", text)
    assert re.search(r"srun .*\n\s*ray start --block --address", text)
    assert "export RAY_AUTH_MODE=token" in text
    assert "python -m evalfleet run" in text
