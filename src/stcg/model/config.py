"""The STCG model's params (:class:`ModelConfig`, ``train_stcg.model`` and ``ablate.model``).

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The STCG model (paper Section 3; decisions documented in ``stcg.model``); defaults = the
    default profile of params.yaml.

    Ablation switches: ``condition``, ``temporal_conv``, ``gcn``, ``lstm``, ``interp`` (false =
    that part is skipped), ``attention: softmax`` (encoder attention); the number of clusters is
    ``build_graph.clusters`` and the window is ``train_stcg.window``.  ``land_cover``: the cell's
    IGBP class enters the encoder as one more (categorical) feature token.  ``output``: the GPP
    output, identity | softplus | clamp (non-negative; see ``STCGModel.gpp_output``).
    Interpretable-weight options (``stcg.model.stcg``): ``interp_source`` (``data``: eq. 15;
    ``condition``: weights and ``w_0`` from the condition and land cover only, GWR's form) and
    ``consistency_weight`` (lambda of ``lambda ||w - stopgrad(dy/dz)||^2``; 0 = off) and
    ``center_inputs`` (``none``: ``y_interp = w_0 + sum_j w_j z_j`` about the training mean;
    ``climatology``: ``z_j - z_ref,j`` with ``z_ref`` the cell's mean of the same period over the
    training years).
    """

    d_model: int = 16
    heads: int = 2
    encoder_blocks: int = 1
    decoder_layers: int = 1
    ffn_mult: int = 2
    dropout: float = 0.0
    attention: Literal["linear", "softmax"] = "linear"
    eps: float = 1e-6
    condition: bool = True
    temporal_conv: bool = True
    conv_kernel: int = 3
    gcn: bool = True
    gcn_self_loops: bool = True
    gcn_impl: Literal["dense", "pyg"] = "dense"
    lstm: bool = True
    time_embedding: Literal["add", "rotate"] = "add"
    cross_attention: Literal["data_keys", "condition_keys"] = "data_keys"
    interp: bool = True
    interp_intercept: bool = True
    land_cover: bool = True
    target_tokens: Literal["query", "features"] = "features"
    output: Literal["identity", "softplus", "clamp"] = "clamp"
    interp_source: Literal["data", "condition"] = "condition"
    consistency_weight: float = 0.0
    center_inputs: Literal["none", "climatology"] = "none"

    def validate(self) -> None:
        """Positive sizes; heads divide d_model into even head widths (RoPE); odd conv kernel."""
        if self.output not in ("identity", "softplus", "clamp"):
            raise ValueError(
                f"model.output: must be identity, softplus or clamp, got {self.output!r}")
        for name in ("d_model", "heads", "encoder_blocks", "decoder_layers", "ffn_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name}: must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.heads or (self.d_model // self.heads) % 2:
            raise ValueError(
                f"model.heads: d_model {self.d_model} / heads {self.heads} must be an even integer"
            )
        if self.d_model % 2:
            raise ValueError(f"model.d_model: must be even (RoPE), got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout: must be in [0, 1), got {self.dropout}")
        if self.conv_kernel < 1 or self.conv_kernel % 2 == 0:
            raise ValueError(f"model.conv_kernel: must be odd and >= 1, got {self.conv_kernel}")
        if self.center_inputs not in ("none", "climatology"):
            raise ValueError(f"model.center_inputs: must be none or climatology, got "
                             f"{self.center_inputs!r}")
        if self.interp_source == "condition" and not self.condition:
            raise ValueError("model.interp_source: 'condition' needs the condition branch "
                             "(model.condition: true); set interp_source: data")
        if self.consistency_weight < 0:
            raise ValueError(f"model.consistency_weight: must be >= 0, got "
                             f"{self.consistency_weight}")
