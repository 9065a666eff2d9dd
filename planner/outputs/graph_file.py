"""plan.graphml: the task dependency graph, for graph tools (yEd, Gephi, networkx)."""

from __future__ import annotations

import io
from pathlib import Path

import networkx as nx

from planner.atomic import write_bytes
from planner.model import Plan
from planner.outputs.xml_text import xml_safe


def task_graph(plan: Plan) -> nx.DiGraph:
    """Tasks as nodes (kind, title, wave, stream), dependencies as edges from the prerequisite."""
    graph = nx.DiGraph()
    for task in plan.tasks:  # a title quotes principals and user agents from the logs
        graph.add_node(task.id, kind=task.kind, title=xml_safe(task.title), wave=task.wave, stream=task.stream,
                       stream_name=xml_safe(task.stream_name))
    for task in plan.tasks:
        for dep in task.depends_on:
            graph.add_edge(dep, task.id)
    return graph


def write_graphml(plan: Plan, path: Path) -> None:
    """Write plan.graphml atomically."""
    buffer = io.BytesIO()
    nx.write_graphml(task_graph(plan), buffer)
    write_bytes(path, buffer.getvalue())
