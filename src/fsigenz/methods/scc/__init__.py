"""Semantic-aware Contrastive Classifier (SCC, the TCN architecture), method notes "Phase 2".

One idea a module:

- :mod:`.kernel`: the pairwise scorer as one GEMM with its own backward pass, and its buffer pool;
- :mod:`.network`: the encoder + Hadamard fusion + scorer network;
- :mod:`.loss`: the grouped BCE loss L = L_S + β L_U;
- :mod:`.cuda_graph`: replaying the training step from a CUDA graph;
- :mod:`.estimator`: :class:`SemanticContrastiveClassifier`, the sklearn-shaped estimator.
"""

from fsigenz.methods.scc.cuda_graph import CUDA_GRAPH_WARMUP_STEPS, CudaGraphTrainingStep
from fsigenz.methods.scc.estimator import SCCMonitor, SemanticContrastiveClassifier
from fsigenz.methods.scc.kernel import PairwiseScorer, ScoringWorkspace
from fsigenz.methods.scc.loss import grouped_bce_loss
from fsigenz.methods.scc.network import SemanticContrastiveNetwork

__all__ = [
    "CUDA_GRAPH_WARMUP_STEPS",
    "CudaGraphTrainingStep",
    "PairwiseScorer",
    "SCCMonitor",
    "ScoringWorkspace",
    "SemanticContrastiveClassifier",
    "SemanticContrastiveNetwork",
    "grouped_bce_loss",
]
