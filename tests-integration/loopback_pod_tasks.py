"""A Flyte task with a pod template (it reaches the control plane as a k8s_pod target)."""

from __future__ import annotations

import flyte
from kubernetes.client import V1Container, V1PodSpec

pod_env = flyte.TaskEnvironment(
    name="loopback_pod",
    image="example.com/test:latest",
    resources=flyte.Resources(cpu="1", memory="512Mi"),
    pod_template=flyte.PodTemplate(
        primary_container_name="primary",
        pod_spec=V1PodSpec(containers=[V1Container(name="primary", image="example.com/pod-image:v1")]),
    ),
)


@pod_env.task
async def greet(name: str) -> str:
    """Return a greeting."""
    return f"hello {name}"
