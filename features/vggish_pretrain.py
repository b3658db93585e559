"""Denoising pre-training of VGGish on one's own audio (the ``pretrain-embedding`` command's core).

A VGGish encoder maps a corrupted log-mel example to its 128-d embedding; a decoder of
transposed 1-D convolutions over time reconstructs the clean 96 x 64 example; the loss is the
mean squared error.  Corruptions as in the denoising objectives compared for instrument
recognition: additive Gaussian noise (std 0.1) or multiplicative Bernoulli masking
(each log-mel bin kept with probability 1 - p, p = 0.5).

The trained encoder is saved as a torchvggish-format state dict, so
``VGGishConfig(weights="pretrained", checkpoint=...)`` loads it like any checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterable, Literal

import numpy as np
import torch
from torch import nn

from features.vggish import EXAMPLE_FRAMES, random_vggish
from features.vggish_weights import EMBEDDING_SIZE

N_MELS = 64


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of :func:`pretrain`."""

    noise: Literal["gaussian", "bernoulli"] = "gaussian"
    noise_std: float = 0.1
    mask_p: float = 0.5
    learning_rate: float = 1e-4
    steps: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.noise not in ("gaussian", "bernoulli"):
            raise ValueError(f"noise must be 'gaussian' or 'bernoulli', got {self.noise!r}")
        if self.noise_std < 0 or not 0 <= self.mask_p < 1:
            raise ValueError(f"need noise_std >= 0 and 0 <= mask_p < 1, got {self.noise_std}, {self.mask_p}")
        if self.learning_rate <= 0 or self.steps < 1:
            raise ValueError(f"need learning_rate > 0 and steps >= 1, got {self.learning_rate}, {self.steps}")


def corrupt(x: torch.Tensor, *, config: PretrainConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive Gaussian noise or multiplicative Bernoulli masking of log-mel examples."""
    if config.noise == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + config.noise_std * noise
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= config.mask_p
    return x * keep.to(x.dtype)


class DenoisingDecoder(nn.Module):
    """128-d embedding -> ``(batch, 96, 64)`` log-mel, by transposed 1-D convolutions over time.

    A linear layer makes 6 time steps of 256 channels; four stride-2 transposed convolutions
    double the time axis 6 -> 12 -> 24 -> 48 -> 96, the last one producing the 64 mel bands.
    """

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(EMBEDDING_SIZE, 256 * 6)
        layers: list[nn.Module] = []
        widths = (256, 256, 128, 128, N_MELS)
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.ConvTranspose1d(c_in, c_out, kernel_size=4, stride=2, padding=1))
            if i < len(widths) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.upsample = nn.Sequential(*layers)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        x = self.project(embedding).reshape(-1, 256, 6)
        return self.upsample(x).transpose(1, 2)  # (batch, 96, 64)


class DenoisingAutoencoder(nn.Module):
    """VGGish encoder (no final ReLU, so the code is not clipped) and :class:`DenoisingDecoder`."""

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__()
        self.encoder = random_vggish(seed=seed, final_relu=False)
        torch.manual_seed(seed)
        self.decoder = DenoisingDecoder()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.encoder(x)
        return {"embedding": embedding, "reconstruction": self.decoder(embedding)}


def denoising_loss(model: DenoisingAutoencoder, clean: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the reconstruction of ``corrupted`` and ``clean``."""
    return nn.functional.mse_loss(model(corrupted)["reconstruction"], clean)


def pretrain(
    batches: Iterable[np.ndarray | torch.Tensor],
    *,
    config: PretrainConfig = PretrainConfig(),
    device: torch.device | str = "cpu",
    model: DenoisingAutoencoder | None = None,
) -> tuple[DenoisingAutoencoder, list[float]]:
    """Train the denoising autoencoder for ``config.steps`` steps (or until ``batches`` ends).

    Parameters
    ----------
    batches : iterable of array [shape=(batch, 96, 64)]
        Clean log-mel examples (:func:`features.vggish.vggish_examples`).
    config : PretrainConfig
    device : torch device
    model : DenoisingAutoencoder, optional
        Continue training this model instead of a fresh one seeded with ``config.seed``.

    Returns
    -------
    model : DenoisingAutoencoder (eval mode)
    losses : list of float, one per step
    """
    device = torch.device(device)
    model = (model or DenoisingAutoencoder(seed=config.seed)).to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    losses: list[float] = []
    for step, batch in enumerate(batches):
        if step >= config.steps:
            break
        clean = torch.as_tensor(np.asarray(batch), dtype=torch.float32, device=device)
        if clean.ndim != 3 or clean.shape[1:] != (EXAMPLE_FRAMES, N_MELS):
            raise ValueError(f"expected batches of shape (batch, 96, 64), got {tuple(clean.shape)}")
        loss = denoising_loss(model, clean, corrupt(clean, config=config, generator=generator))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return model.eval(), losses


def save_encoder(model: DenoisingAutoencoder, destination: str | BinaryIO) -> None:
    """Save the encoder as a torchvggish-format state dict (``features.*``, ``embeddings.*``).

    Load it with ``VGGishConfig(weights="pretrained", final_relu=False, checkpoint=...)``: the
    encoder was trained without the final ReLU.
    """
    state = {k: v.detach().cpu().contiguous() for k, v in model.encoder.state_dict().items()}
    torch.save(state, destination)

