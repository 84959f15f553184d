"""Training of the text-conditioned 3D GAN: configuration, data, the loop, checkpoints."""
