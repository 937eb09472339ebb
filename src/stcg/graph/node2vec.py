"""Node2vec embeddings (Grover & Leskovec 2016), the initial node embeddings of Section 3.2.

PyG's ``Node2Vec`` needs ``pyg-lib`` or ``torch-cluster`` for its walks, neither of which is on
PyPI for our torch, so the walks are done here in numpy, vectorised over all walkers (one numpy
step per walk position, no per-walker Python):

* second-order biased walks: from ``v``, having come from ``t``, the next node ``x`` is drawn
  with probability proportional to ``alpha_pq(t, x) * w_vx`` where ``alpha = 1/p`` if ``x == t``,
  ``1`` if ``x`` is a neighbour of ``t``, and ``1/q`` otherwise (node2vec's eq. for pi_vx);
  the first step is proportional to ``w_vx`` alone.  ``weighted: false`` uses ``w = 1``.
* skip-gram with negative sampling in torch, as PyG's ``Node2Vec.loss``: each walk is cut into
  sub-walks of ``context_size`` nodes; the first node of a sub-walk is pulled towards the other
  nodes of the sub-walk (``-log sigmoid(h_s . h_c)``) and pushed away from ``num_negative``
  sub-walks of uniformly drawn nodes (``-log(1 - sigmoid(h_s . h_n))``).  One embedding table
  serves both roles, as in PyG.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from tqdm import tqdm

from stcg.device import deterministic


def padded_neighbours(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour table of an undirected graph, padded to the maximum degree.

    Args:
        n: number of nodes.
        src: ``[E]`` one end of each undirected edge.
        dst: ``[E]`` the other end.
        weight: ``[E]`` edge weights (> 0).

    Returns:
        ``(nbr [N, Dmax] int64 (-1 = padding), w [N, Dmax] float64 (0 = padding), deg [N])``,
        neighbours in ascending index order.
    """
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    ww = np.concatenate([weight, weight]).astype(np.float64)
    order = np.lexsort((b, a))
    a, b, ww = a[order], b[order], ww[order]
    deg = np.bincount(a, minlength=n)
    dmax = max(int(deg.max(initial=0)), 1)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    slot = np.arange(a.size) - start[a]
    nbr = np.full((n, dmax), -1, dtype=np.int64)
    w = np.zeros((n, dmax), dtype=np.float64)
    nbr[a, slot] = b
    w[a, slot] = ww
    return nbr, w, deg


def random_walks(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    walk_length: int,
    walks_per_node: int,
    p: float,
    q: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Node2vec second-order random walks, all walkers advanced together.

    Args:
        n: number of nodes.
        src: ``[E]`` undirected edges (each once).
        dst: ``[E]``.
        weight: ``[E]`` edge weights (> 0); pass ones for unweighted walks.
        walk_length: nodes per walk (including the start).
        walks_per_node: walks started at every node.
        p: return parameter.
        q: in-out parameter.
        rng: numpy generator.

    Returns:
        ``[N * walks_per_node, walk_length]`` int64; walk ``r * N + i`` starts at node ``i``.
        A node without neighbours stays where it is.
    """
    nbr, w, deg = padded_neighbours(n, src, dst, weight)
    edge_key = np.sort(np.concatenate([src * n + dst, dst * n + src]).astype(np.int64))
    starts = np.tile(np.arange(n, dtype=np.int64), walks_per_node)
    walks = np.empty((starts.size, walk_length), dtype=np.int64)
    walks[:, 0] = starts
    prev = np.full(starts.size, -1, dtype=np.int64)
    cur = starts
    for step in range(1, walk_length):
        cand = nbr[cur]  # [W, Dmax]
        prob = w[cur].copy()
        if step > 1 and (p != 1.0 or q != 1.0):
            alpha = np.full(cand.shape, 1.0 / q)
            key = prev[:, None] * n + cand
            pos = np.searchsorted(edge_key, key)
            hit = edge_key[np.minimum(pos, edge_key.size - 1)] == key
            alpha[hit] = 1.0
            alpha[cand == prev[:, None]] = 1.0 / p
            prob *= alpha
        prob[cand < 0] = 0.0
        total = prob.sum(axis=1)
        cum = np.cumsum(prob, axis=1)
        u = rng.random(cur.size) * total
        pick = np.minimum((cum <= u[:, None]).sum(axis=1), nbr.shape[1] - 1)
        nxt = cand[np.arange(cur.size), pick]
        stuck = deg[cur] == 0
        nxt[stuck] = cur[stuck]
        prev, cur = cur, nxt
        walks[:, step] = cur
    return walks


def skipgram_pairs(walks: np.ndarray, context_size: int) -> np.ndarray:
    """Cut walks into all sub-walks of ``context_size`` nodes (PyG's ``Node2Vec`` sampling).

    Returns:
        ``[S, context_size]`` int64.
    """
    n_sub = walks.shape[1] - context_size + 1
    return np.concatenate([walks[:, j : j + context_size] for j in range(n_sub)], axis=0)


def skipgram_loss(emb: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Negative-sampling skip-gram loss of PyG's ``Node2Vec.loss``.

    Args:
        emb: ``[N, D]`` embeddings.
        pos: ``[S, c]`` positive sub-walks (start node first).
        neg: ``[S', c]`` negative sub-walks (start node first, then random nodes).

    Returns:
        Scalar loss.
    """
    eps = 1e-15

    def term(walk: torch.Tensor, positive: bool) -> torch.Tensor:
        h_s = emb[walk[:, :1]]  # [S, 1, D]
        h_c = emb[walk[:, 1:]]  # [S, c-1, D]
        score = (h_s * h_c).sum(-1).reshape(-1)
        sig = torch.sigmoid(score)
        return -torch.log((sig if positive else 1.0 - sig) + eps).mean()

    loss = term(pos, True)
    if neg.numel():
        loss = loss + term(neg, False)
    return loss


def node2vec(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    dim: int,
    walk_length: int,
    context_size: int,
    walks_per_node: int,
    p: float,
    q: float,
    num_negative: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weighted: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Node2vec embeddings of an undirected weighted graph (see module docstring).

    New walks are drawn every epoch.  ``batch_size`` counts walks (as in PyG), so a batch holds
    ``batch_size * (walk_length - context_size + 1)`` positive sub-walks.

    Returns:
        ``[N, dim]`` float32 embeddings.
    """
    with deterministic(), _one_torch_thread():
        return _train(n, src, dst, weight, dim, walk_length, context_size, walks_per_node, p, q,
                      num_negative, epochs, batch_size, lr, seed, weighted, progress)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Torch on one thread inside the block, the previous count restored after.

    A skip-gram batch is a few thousand rows of ``dim`` floats: too small to split among threads.
    On busy cores a second thread only waits (the backward took 5x longer with 2 threads than
    with 1 at 1000 nodes); every op here either does not reduce across rows or reduces fewer
    elements than torch's parallel grain, so the bytes do not depend on the thread count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, dim: int, walk_length: int,
    context_size: int, walks_per_node: int, p: float, q: float, num_negative: int, epochs: int,
    batch_size: int, lr: float, seed: int, weighted: bool, progress: bool,
) -> np.ndarray:
    """The training loop of :func:`node2vec` (same arguments)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.Parameter(torch.randn(n, dim, generator=gen) * (1.0 / np.sqrt(dim)))
    opt = torch.optim.Adam([emb], lr=lr)
    w = np.asarray(weight, dtype=np.float64) if weighted else np.ones(len(src))
    n_sub = walk_length - context_size + 1
    for _ in tqdm(range(epochs), desc="node2vec", disable=not progress, leave=False):
        walks = random_walks(n, src, dst, w, walk_length, walks_per_node, p, q, rng)
        order = rng.permutation(len(walks))
        for b in range(0, len(walks), batch_size):
            wk = walks[order[b : b + batch_size]]
            pos = torch.from_numpy(skipgram_pairs(wk, context_size))
            if num_negative > 0:
                neg_walks = rng.integers(0, n, size=(len(wk) * num_negative, walk_length))
                neg_walks[:, 0] = np.repeat(wk[:, 0], num_negative)
                neg = torch.from_numpy(skipgram_pairs(neg_walks, context_size))
            else:
                neg = torch.empty(0, context_size, dtype=torch.int64)
            assert pos.shape[0] == len(wk) * n_sub
            opt.zero_grad(set_to_none=True)
            loss = skipgram_loss(emb, pos, neg)
            loss.backward()
            opt.step()
    return emb.detach().numpy().astype(np.float32)
