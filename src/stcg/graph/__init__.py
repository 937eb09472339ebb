"""The spatiotemporal conditional graph (paper Section 3.2, eqs. 5-9).

:mod:`~stcg.graph.cluster` (K-means on the sphere, eq. 5), :mod:`~stcg.graph.knn` (spherical
KNN, connectivity, eq. 8 weights), :mod:`~stcg.graph.node2vec` (initial node embeddings),
:mod:`~stcg.graph.build` (the graph file and its metrics), :mod:`~stcg.graph.plot` (globe figure).
"""

from stcg.graph.build import Graph, build_graph, graph_metrics, load_graph, save_graph

__all__ = ["Graph", "build_graph", "graph_metrics", "load_graph", "save_graph"]
