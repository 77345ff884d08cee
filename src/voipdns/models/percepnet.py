"""PercepNet (Valin et al. 2020) and its personalised variants PPN (Giri et al. 2021) and UPN.

Per 10 ms frame the net sees ERB band energies, per-band pitch coherence, pitch period and correlation
(``percepnet_features``) and predicts band gains ``g_b`` and comb-filter strengths ``r_b`` (both sigmoid):

    fc(128, tanh) -> Conv1d(512, k5, tanh) -> Conv1d(512, k3, tanh) -> GRU(512) x 3 -> gains
                                                              last GRU -> GRU(128) -> strengths

Convolutions are padded on the left only and the GRUs are unidirectional, so frame t uses frames <= t.
The gain (and VAD) heads read the concatenated outputs of all main GRUs.

* PPN: a speaker embedding ``z[B, D]`` is concatenated to the conv output before the first GRU; a VAD head
  gives one logit per frame (target speaker active).
* UPN: the conditioning is ``concat(z, q_t)`` where the per-frame flag ``q_t = 1`` and zeros where ``q_t = 0``
  (``0`` = behave as a plain denoiser that keeps all speech).

``training_outputs`` also returns the ideal targets computed from ``batch["clean"]`` (``gains_target``,
``strengths_target``), so the losses in ``voipdns.losses.percepnet`` need no DSP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from voipdns.dsp.percepnet_features import PercepNetDsp
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE


class CausalConv1d(nn.Conv1d):
    """Conv1d over frames ``[B, C, F]`` padded on the left so frame t never sees t + 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


class PercepNet(EnhancementNet):
    causal = True  # every stage looks back only (pitch search, causal convs, GRUs, comb filter)

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_bands: int = 32,
        fc_size: int = 128,
        conv_channels: int = 512,
        gru_sizes: list[int] | tuple[int, ...] = (512, 512, 512),
        strength_gru_size: int = 128,
        embedding_dim: int = 0,
        use_q_flag: bool = False,
        vad_head: bool = False,
        postfilter: bool = True,
        postfilter_beta: float = 0.02,
        comb_taps: int = 7,
        pitch_min_hz: float = 62.5,
        pitch_max_hz: float = 800.0,
    ):
        super().__init__()
        if not gru_sizes:
            raise ValueError("PercepNet needs at least one GRU size in gru_sizes")
        if use_q_flag and embedding_dim <= 0:
            raise ValueError("use_q_flag (UPN) needs embedding_dim > 0")
        self.dsp = PercepNetDsp(
            sample_rate,
            n_bands,
            pitch_min_hz=pitch_min_hz,
            pitch_max_hz=pitch_max_hz,
            comb_taps=comb_taps,
            postfilter_beta=postfilter_beta,
        )
        self.sample_rate = int(sample_rate)
        self.hop_samples = self.dsp.hop_samples
        # Overlap-add: an output sample depends on input up to one window ahead.
        self.latency_samples = self.dsp.window_samples
        self.embedding_dim = int(embedding_dim)
        self.use_q_flag = bool(use_q_flag)
        self.postfilter = bool(postfilter)
        self.speaker_embedding: torch.Tensor | None = None  # set by set_speaker_embedding (not in state_dict)
        bands = self.dsp.n_bands_total
        self.fc = nn.Linear(self.dsp.n_features, fc_size)
        self.conv1 = CausalConv1d(fc_size, conv_channels, 5)
        self.conv2 = CausalConv1d(conv_channels, conv_channels, 3)
        sizes = [conv_channels + self.conditioning_dim, *gru_sizes]
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.grus = nn.ModuleList(nn.GRU(i, o, batch_first=True) for i, o in pairs)
        self.gain_head = nn.Linear(sum(gru_sizes), bands)
        self.strength_gru = nn.GRU(gru_sizes[-1], strength_gru_size, batch_first=True)
        self.strength_head = nn.Linear(strength_gru_size, bands)
        self.vad_head = nn.Linear(sum(gru_sizes), 1) if vad_head else None

    @property
    def conditioning_dim(self) -> int:
        return self.embedding_dim + (1 if self.use_q_flag else 0)

    def num_frames(self, num_samples: int) -> int:
        """Frames for a clip: ``ceil(T / hop) + 1`` (frame t centred on sample ``t * hop``)."""
        return self.dsp.num_frames(num_samples)

    def set_speaker_embedding(self, embedding: torch.Tensor | None) -> None:
        """Enrolled target speaker ``[D]`` used by ``forward`` when no embedding is passed."""
        if embedding is not None and embedding.shape[-1] != self.embedding_dim:
            raise ValueError(f"speaker embedding has dim {embedding.shape[-1]}, net expects {self.embedding_dim}")
        self.speaker_embedding = embedding

    def conditioning(
        self, batch_size: int, frames: int, embedding: torch.Tensor | None, q: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Per-frame conditioning ``[B, F, conditioning_dim]`` (None for plain PercepNet)."""
        if self.embedding_dim == 0:
            return None
        if embedding is None:
            embedding = self.speaker_embedding
        if embedding is not None:
            embedding = embedding.to(self.fc.weight).reshape(-1, self.embedding_dim).expand(batch_size, -1)
        if not self.use_q_flag:
            if embedding is None:
                raise ValueError(
                    "this personalised PercepNet needs a speaker embedding: pass batch['embedding'] [B, "
                    f"{self.embedding_dim}] or call set_speaker_embedding()"
                )
            return embedding[:, None, :].expand(-1, frames, -1)
        if q is None:  # UPN default: personalise when an embedding is known, else plain denoising
            q = torch.full((batch_size, frames), 1.0 if embedding is not None else 0.0, device=self.fc.weight.device)
        if q.shape != (batch_size, frames):
            raise ValueError(f"q must be [batch, frames] = {(batch_size, frames)}, got {tuple(q.shape)}")
        q = q.to(self.fc.weight)
        if embedding is None:
            if bool((q != 0).any()):
                raise ValueError("q = 1 on some frames but no speaker embedding was given")
            embedding = torch.zeros(batch_size, self.embedding_dim, device=q.device, dtype=q.dtype)
        stacked = torch.cat([embedding[:, None, :].expand(-1, frames, -1), q[..., None]], -1)
        return stacked * (q[..., None] != 0)  # z' = concat(z, q) where q = 1, else the zero vector

    def predict(self, features: torch.Tensor, conditioning: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``features[B, F, n_features]`` -> gains, strengths ``[B, F, bands]`` (+ ``vad_logits[B, F]``)."""
        hidden = torch.tanh(self.fc(features)).transpose(1, 2)
        hidden = torch.tanh(self.conv1(hidden))
        hidden = torch.tanh(self.conv2(hidden)).transpose(1, 2)
        if conditioning is not None:
            hidden = torch.cat([hidden, conditioning], -1)
        outputs = []
        for gru in self.grus:
            hidden, _ = gru(hidden)
            outputs.append(hidden)
        stacked = torch.cat(outputs, -1)
        strength_hidden, _ = self.strength_gru(hidden)
        result = {
            "gains": torch.sigmoid(self.gain_head(stacked)),
            "strengths": torch.sigmoid(self.strength_head(strength_hidden)),
        }
        if self.vad_head is not None:
            result["vad_logits"] = self.vad_head(stacked).squeeze(-1)
        return result

    def _run(self, noisy: torch.Tensor, embedding=None, q=None, clean=None) -> dict[str, torch.Tensor]:
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} expects noisy [batch, 1, samples], got {tuple(noisy.shape)}")
        wave = noisy[:, 0]
        frames = self.dsp.analyze(wave)
        n_frames = frames.energy.shape[1]
        outputs = self.predict(self.dsp.features(frames), self.conditioning(wave.shape[0], n_frames, embedding, q))
        spectra = self.dsp.apply(frames, outputs["gains"], outputs["strengths"], self.postfilter)
        outputs["estimate"] = self.dsp.synthesize(spectra, wave.shape[-1]).unsqueeze(1)
        if clean is not None:
            outputs["gains_target"], outputs["strengths_target"] = self.dsp.targets(clean[:, 0], frames)
        return outputs

    def forward(
        self, noisy: torch.Tensor, embedding: torch.Tensor | None = None, q: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._run(noisy, embedding, q)["estimate"]

    def training_outputs(self, batch: dict) -> dict:
        clean = batch.get("clean")
        if clean is None:
            raise KeyError("PercepNet training needs batch['clean'] to compute its ideal gain targets")
        if clean.shape != batch["noisy"].shape:
            raise ValueError(f"clean {tuple(clean.shape)} and noisy {tuple(batch['noisy'].shape)} differ in shape")
        return self._run(batch["noisy"], batch.get("embedding"), batch.get("q"), clean)

    @torch.no_grad()
    def oracle(self, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Enhance with the ideal gains and strengths (upper bound of this signal path; for checks)."""
        wave = noisy[:, 0]
        frames = self.dsp.analyze(wave)
        gains, strengths = self.dsp.targets(clean[:, 0], frames)
        spectra = self.dsp.apply(frames, gains, strengths, postfilter=False)
        return self.dsp.synthesize(spectra, wave.shape[-1]).unsqueeze(1)


class PersonalizedPercepNet(PercepNet):
    """PPN: speaker embedding before the GRUs and a frame-wise target-speaker VAD head."""

    def __init__(self, embedding_dim: int = 192, vad_head: bool = True, **kwargs):
        super().__init__(embedding_dim=embedding_dim, vad_head=vad_head, **kwargs)


class UnifiedPercepNet(PercepNet):
    """UPN: PPN whose conditioning ``concat(z, q_t)`` is zeroed on frames with ``q_t = 0``."""

    def __init__(self, embedding_dim: int = 192, vad_head: bool = True, **kwargs):
        super().__init__(embedding_dim=embedding_dim, vad_head=vad_head, use_q_flag=True, **kwargs)
