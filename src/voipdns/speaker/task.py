"""Lightning module training a speaker embedder with an AAM-softmax head; validation reports the EER over all
pairs of held-out segments (cosine scoring)."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from voipdns.speaker.aam_softmax import AamSoftmax
from voipdns.speaker.eer import equal_error_rate, pairwise_trials


class SpeakerEmbedderTask(L.LightningModule):
    def __init__(
        self,
        embedder: nn.Module,
        n_speakers: int,
        margin: float = 0.2,
        scale: float = 30.0,
        lr: float = 1e-3,
        weight_decay: float = 2e-5,
    ):
        super().__init__()
        self.embedder = embedder
        self.head = AamSoftmax(embedder.embedding_dim, n_speakers, margin, scale)
        self.lr, self.weight_decay = lr, weight_decay
        self._val_embeddings: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        wave, labels = batch
        embeddings = self.embedder(wave)
        loss = self.head(embeddings, labels)
        accuracy = (self.head.cosine(embeddings).argmax(-1) == labels).float().mean()
        self.log_dict({"train/loss": loss, "train/accuracy": accuracy}, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        wave, labels = batch
        self._val_embeddings.append(self.embedder(wave).detach().cpu())
        self._val_labels.append(labels.detach().cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        embeddings, labels = torch.cat(self._val_embeddings), torch.cat(self._val_labels)
        self._val_embeddings, self._val_labels = [], []
        scores, is_target = pairwise_trials(embeddings, labels)
        if bool(is_target.any()) and bool((~is_target).any()):
            eer, _ = equal_error_rate(scores, is_target)
            self.log("val/eer", eer, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
