"""deploy/kubernetes/: valid against the schemas of a pinned Kubernetes version (offline, PyPI's
kubernetes-validate, strict: an unknown or misspelt field fails), shaped as the issue asks, and
running the README's commands (file paths aside)."""
from __future__ import annotations

import copy
import re
import shlex

import pytest
import yaml

from tests.conftest import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"  # the oldest version still supported upstream when this was written
ENVIRONMENTS = ("staging", "production")
# Options whose value is a file or a URL: the README names a local file, a pod a mounted one.
PATH_OPTIONS = ("--env-file", "--junitxml", "--metrics-out", "--manifest", "--pushgateway")
# Which README row each component runs (README.md, "Common invocations").
README_ROWS = {"preflight": "before every deploy", "nightly": "nightly, per environment",
               "post-restore": "after a database restore"}


def documents() -> list[tuple[str, dict]]:
    found = [(path.name, doc) for path in sorted(KUBERNETES.glob("*.yaml"))
             for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert found, f"no manifest under {KUBERNETES}"
    return found


def pod_spec(doc: dict) -> dict:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["spec"]


def job_spec(doc: dict) -> dict:
    return doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]


def workloads() -> list[tuple[str, dict]]:
    return [(name, doc) for name, doc in documents() if doc["kind"] in ("Job", "CronJob")]


def normalized(argv: list[str]) -> list[str]:
    """A command with the values of PATH_OPTIONS replaced by placeholders."""
    out = []
    for i, arg in enumerate(argv):
        out.append(f"<{argv[i - 1]}>" if i and argv[i - 1] in PATH_OPTIONS else arg)
    return out


def readme_commands() -> dict[str, list[str]]:
    """The README's common invocations: {when: argv}."""
    text = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| ([^|]+?) \| `([^`]+)` \|$", text, re.MULTILINE)
    return {when.strip(): shlex.split(command) for when, command in rows}


def validate(doc: dict) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name, doc", documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_is_valid_for_the_pinned_kubernetes_version(name, doc):
    validate(doc)


def test_the_validation_rejects_a_misspelt_field_and_a_wrong_value():
    import kubernetes_validate

    cronjob = next(doc for _, doc in workloads() if doc["kind"] == "CronJob")
    misspelt = copy.deepcopy(cronjob)
    misspelt["spec"]["concurrencyPolicey"] = misspelt["spec"].pop("concurrencyPolicy")
    with pytest.raises(kubernetes_validate.ValidationError, match="concurrencyPolicey"):
        validate(misspelt)
    wrong = copy.deepcopy(cronjob)
    job_spec(wrong)["activeDeadlineSeconds"] = "30m"
    with pytest.raises(kubernetes_validate.ValidationError, match="30m"):
        validate(wrong)


def test_a_nightly_cronjob_per_environment_forbids_overlap_and_has_a_deadline():
    cronjobs = {doc["metadata"]["labels"]["flash-green-ops/environment"]: doc
                for _, doc in workloads() if doc["kind"] == "CronJob"}
    assert sorted(cronjobs) == sorted(ENVIRONMENTS)
    for environment, doc in cronjobs.items():
        assert doc["spec"]["concurrencyPolicy"] == "Forbid"
        assert 0 < job_spec(doc)["activeDeadlineSeconds"] <= 24 * 3600
        argv = pod_spec(doc)["containers"][0]["command"]
        # JUnit and metrics go to the results volume, named after the environment.
        assert argv[argv.index("--junitxml") + 1] == f"/results/nightly-{environment}.xml"
        assert argv[argv.index("--metrics-out") + 1] == f"/results/nightly-{environment}.prom"
        assert argv[argv.index("--metrics-suite") + 1] == "nightly"  # what the missing-run alert reads
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        assert volumes["env-file"]["secret"]["secretName"] == f"flash-green-ops-env-{environment}"
        mounts = {m["mountPath"]: m["name"] for m in pod_spec(doc)["containers"][0]["volumeMounts"]}
        assert mounts["/results"] == "results" and "persistentVolumeClaim" in volumes["results"]


def test_the_nightly_cronjobs_differ_only_in_their_environment_and_schedule():
    # Two copies of one manifest (plain YAML shares nothing): one edited alone would drift.
    cronjobs = {doc["metadata"]["labels"]["flash-green-ops/environment"]: doc
                for _, doc in workloads() if doc["kind"] == "CronJob"}

    def generic(environment: str) -> dict:
        doc = copy.deepcopy(cronjobs[environment])
        del doc["spec"]["schedule"]
        return yaml.safe_load(yaml.safe_dump(doc).replace(environment, "ENVIRONMENT"))

    assert generic("staging") == generic("production")


def test_the_preflight_job_is_a_helm_pre_install_and_pre_upgrade_hook():
    (preflight,) = [doc for _, doc in workloads() if doc["metadata"]["labels"]["app.kubernetes.io/component"]
                    == "preflight"]
    assert preflight["kind"] == "Job"
    assert preflight["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


@pytest.mark.parametrize("name, doc", workloads(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_pod_runs_as_non_root_within_limits_with_the_env_file_from_a_secret(name, doc):
    spec = pod_spec(doc)
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
    assert spec["restartPolicy"] == "Never" and job_spec(doc)["backoffLimit"] == 0
    assert job_spec(doc)["activeDeadlineSeconds"] > 0
    for container in spec["containers"]:
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        argv = container["command"]
        env_mount = next(m for m in container["volumeMounts"] if m["name"] == "env-file")
        assert argv[argv.index("--env-file") + 1].startswith(env_mount["mountPath"] + "/")
    assert "secret" in next(v for v in spec["volumes"] if v["name"] == "env-file")


@pytest.mark.parametrize("name, doc", workloads(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_command_is_the_readmes(name, doc):
    row = README_ROWS[doc["metadata"]["labels"]["app.kubernetes.io/component"]]
    (readme,) = [argv for when, argv in readme_commands().items() if when.startswith(row)]
    (container,) = pod_spec(doc)["containers"]
    assert normalized(container["command"]) == normalized(readme), f"not the README's command for {row!r}"
