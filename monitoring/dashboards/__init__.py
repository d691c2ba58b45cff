"""One module per dashboard; each exposes ``build() -> grafana_foundation_sdk Dashboard builder``."""
from . import all_runners, collector, components, costs, runner_health

# file name (without .json) -> builder function
DASHBOARDS = {
    "all-runners-status": all_runners.build,
    "runner-health-overview": runner_health.build,
    "agent-manager": components.agent_manager,
    "tool-manager": components.tool_manager,
    "collector-self-monitoring": collector.build,
    "costs-and-scale": costs.build,
}
