"""Replaying the SCC's training step from a CUDA graph.

On CUDA a training step is some hundred small kernels whose launch cost, not the GEMM, bounds it at
the batch sizes used for training; :class:`CudaGraphTrainingStep` records the whole step (batch
gather, forward, loss, backward, Adam) once as a CUDA graph and replays it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CUDA_GRAPH_WARMUP_STEPS = 3  # eager steps of each batch length before its graph is captured


class CudaGraphTrainingStep:
    """Run ``train_on(batch)`` (one optimiser step on the row indices ``batch``, returning the
    detached loss) eagerly for the first :data:`CUDA_GRAPH_WARMUP_STEPS` steps of each batch
    length, then capture it as a CUDA graph and replay that graph from then on.

    The steps run before a capture are ordinary training steps (on a side stream, as CUDA graph
    capture requires), so a run takes the same steps in the same order whether or not it is
    captured. A graph replays the kernels it recorded on the tensors it recorded: the batch indices
    are copied into the graph's own index tensor, and ``train_on`` must read everything else from
    tensors that outlive the graph (the parameters, the optimiser's state — Adam needs
    ``capturable=True`` — and the data). Each batch length (a full batch, and the shorter last batch
    of an epoch) gets its own graph and memory pool; the gradients a graph allocated during capture
    are kept alive with it.
    """

    def __init__(
        self,
        train_on: Callable[[torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = CUDA_GRAPH_WARMUP_STEPS,
    ) -> None:
        self._train_on = train_on
        self._optimizer = optimizer
        self._warmup_steps = warmup_steps
        self._eager_steps: dict[int, int] = {}
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor, list]] = {}
        self._side_stream = torch.cuda.Stream()

    @property
    def captured_batch_lengths(self) -> list[int]:
        return sorted(self._graphs)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        length = int(batch.shape[0])
        if length not in self._graphs:
            if self._eager_steps.get(length, 0) < self._warmup_steps:
                self._eager_steps[length] = self._eager_steps.get(length, 0) + 1
                return self._eager(batch)
            self._capture(batch)
        graph, static_batch, static_loss, _ = self._graphs[length]
        static_batch.copy_(batch)
        graph.replay()
        return static_loss

    def _eager(self, batch: torch.Tensor) -> torch.Tensor:
        current = torch.cuda.current_stream()
        self._side_stream.wait_stream(current)
        with torch.cuda.stream(self._side_stream):
            self._optimizer.zero_grad(set_to_none=True)
            loss = self._train_on(batch)
        current.wait_stream(self._side_stream)
        return loss

    def _capture(self, batch: torch.Tensor) -> None:
        static_batch = batch.clone()
        self._optimizer.zero_grad(set_to_none=True)  # the graph allocates (and owns) its gradients
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_loss = self._train_on(static_batch)
        gradients = [p.grad for group in self._optimizer.param_groups for p in group["params"]]
        self._graphs[int(batch.shape[0])] = (graph, static_batch, static_loss, gradients)
